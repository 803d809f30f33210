import { describe, expect, it } from "vitest";
import { ApiError, NetworkError } from "../../api/http";
import { describePlaceError } from "../placeErrors";

const nameOf = (id: string) => ({ funghi: "Pizza Funghi" })[id] ?? id;

describe("describePlaceError", () => {
  it("tells a network error and a 503 apart, both safe to retry", () => {
    const offline = describePlaceError(new NetworkError(new TypeError("Failed to fetch")), nameOf);
    expect(offline.message).toContain("could not be reached");
    const busy = describePlaceError(new ApiError(503, "x", 7), nameOf);
    expect(busy.message).toContain("busy or briefly unavailable. Please try again in 7 s.");
    for (const failure of [offline, busy]) {
      expect(failure.message).toContain("never be placed twice");
      expect(failure.forgetKey).toBe(false);
    }
  });

  it("says the shop is very busy on a load shed (503 overloaded), and keeps the key", () => {
    const failure = describePlaceError(new ApiError(503, { code: "overloaded", retry_after_s: 1 }, 1), nameOf);
    expect(failure.message).toContain("We're very busy — please try again in a few seconds.");
    expect(failure.message).toContain("never be placed twice");
    expect(failure).toMatchObject({ forgetKey: false, refreshMenu: false, itemId: null });
  });

  it("names the out-of-stock item and asks for the menu again", () => {
    const failure = describePlaceError(new ApiError(409, { code: "out_of_stock", item_id: "funghi" }, null), nameOf);
    expect(failure).toMatchObject({ itemId: "funghi", refreshMenu: true });
    expect(failure.message).toContain("Pizza Funghi is out of stock");
  });

  it("forgets the key only when the server says it belongs to another body", () => {
    expect(describePlaceError(new ApiError(422, { code: "idempotency_key_reused" }, null), nameOf).forgetKey).toBe(true);
    expect(describePlaceError(new ApiError(409, { code: "idempotency_key_in_flight" }, null), nameOf)).toMatchObject({
      forgetKey: false,
      message: expect.stringContaining("still being processed"),
    });
  });

  it("maps FastAPI validation errors to fields, and says what else was refused", () => {
    const failure = describePlaceError(
      new ApiError(
        422,
        [
          { loc: ["body", "customer", "name"], msg: "String should have at most 100 characters" },
          { loc: ["body", "items"], msg: "List should have at most 20 items" },
        ],
        null,
      ),
      nameOf,
    );
    expect(failure.fieldErrors).toEqual({ name: "String should have at most 100 characters" });
    expect(failure.message).toBe("The order was refused: List should have at most 20 items.");
  });

  it("names an item no longer on the menu", () => {
    const failure = describePlaceError(new ApiError(422, { code: "unknown_item", item_id: "gone-item" }, null), nameOf);
    expect(failure.message).toContain("gone-item is no longer on the menu");
    expect(failure.itemId).toBe("gone-item");
  });
});
