// The verdicts below are pydantic's on orders.schemas.CustomerIn / PlaceOrderRequest (checked
// with the running code): the client must refuse exactly what the API refuses.
import { describe, expect, it } from "vitest";
import { normalizeCustomer, stripWhitespace, validateCustomer, validateField, validateLines } from "./validation";

const ok = { name: "Bob", address: "Main st 1", phone: "+39 123" };

describe("customer rules", () => {
  it("accepts a valid customer", () => {
    expect(validateCustomer(ok)).toEqual({});
  });

  it.each([
    ["name", "", false],
    ["name", "   ", false],
    ["name", "x".repeat(100), true],
    ["name", "x".repeat(101), false],
    ["name", `  ${"x".repeat(100)}  `, true], // stripped first
    ["name", "😀".repeat(100), true], // 100 code points, 200 UTF-16 units
    ["name", "😀".repeat(101), false],
    ["name", "\u3000", false], // ideographic space: stripped by pydantic
    ["name", "\u0085", false], // NEL: stripped
    ["name", "\u001c", true], // not White_Space: kept, so one character
    ["name", "\ufeff", true], // BOM: not stripped by pydantic (JS trim() would strip it)
    ["address", "ab", false],
    ["address", "  abc  ", true],
    ["address", "x".repeat(300), true],
    ["address", "x".repeat(301), false],
    ["phone", "+1 2", true],
    ["phone", "123\n", true],
    ["phone", "12", false],
    ["phone", "+ 123", false],
    ["phone", "(01) 234-56.78", false], // must start with a digit
    ["phone", "01 (234) 56-78.9", true],
    ["phone", "1".repeat(30), true],
    ["phone", "1".repeat(31), false],
    ["phone", "１２３", false], // full-width digits are not [0-9]
    ["phone", "12a4", false],
  ] as const)("%s %j valid: %s", (field, value, valid) => {
    expect(validateField(field, value) === undefined).toBe(valid);
  });

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
