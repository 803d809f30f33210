// The client must refuse exactly what the API refuses (orders.schemas.CustomerIn /
// PlaceOrderRequest).
import { describe, expect, it } from "vitest";
import fieldCases from "./customer-field-cases.json";
import { normalizeCustomer, stripWhitespace, validateCustomer, validateField, validateLines } from "./validation";

const ok = { name: "Bob", address: "Main st 1", phone: "+39 123" };

describe("customer rules", () => {
  it("accepts a valid customer", () => {
    expect(validateCustomer(ok)).toEqual({});
  });

  // Shared with tests/test_checkout_rules.py, which checks the same verdicts on the API's model.
  it.each(fieldCases.cases.map((c) => [c.field, c.value, c.valid] as const))(
    "%s %j valid: %s",
    (field, value, valid) => {
      expect(validateField(field as "name" | "address" | "phone", value) === undefined).toBe(valid);
    },
  );

  it("sends what the server keeps", () => {
    expect(normalizeCustomer({ name: "\u3000Ada\n", address: " 12 Row ", phone: "\t+44 1\u00a0" })).toEqual({
      name: "Ada",
      address: "12 Row",
      phone: "+44 1",
    });
    expect(stripWhitespace("\ufeffx\ufeff")).toBe("\ufeffx\ufeff");
  });
});

describe("order lines", () => {
  const line = (quantity: number, item_id = "margherita") => ({ item_id, quantity });

  it("takes 1 to 20 lines of quantity 1 to 50", () => {
    expect(validateLines([line(1)])).toBeNull();
    expect(validateLines([line(50)])).toBeNull();
    expect(validateLines(Array.from({ length: 20 }, (_, i) => line(1, `item-${i}`)))).toBeNull();
  });

  it.each([
    [[], "Your cart is empty."],
    [Array.from({ length: 21 }, (_, i) => ({ item_id: `item-${i}`, quantity: 1 })), "at most 20 different items; remove 1"],
    [[{ item_id: "margherita", quantity: 0 }], "from 1 to 50"],
    [[{ item_id: "margherita", quantity: 51 }], "from 1 to 50"],
    [[{ item_id: "margherita", quantity: 1.5 }], "from 1 to 50"],
    [[{ item_id: "Bad Id", quantity: 1 }], "Unknown item"],
  ])("refuses %j", (lines, message) => {
    expect(validateLines(lines)).toContain(message);
  });
});
