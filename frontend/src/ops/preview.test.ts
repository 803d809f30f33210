import { messageType, payloadText, preview } from "./preview";

describe("dead letter payload preview", () => {
  const envelope = {
    id: "e1",
    type: "delivery.request",
    payload: JSON.stringify({
      order_id: "abc",
      address: "1 Main St",
      customer: { name: "Ann", phone: "123" },
      items: [{ name: "Pizza Margherita", quantity: 1 }],
    }),
  };

  it("shows the payload with personal data masked", () => {
    const text = payloadText(envelope);
    expect(text).not.toContain("Main St");
    expect(text).not.toContain("Ann");
    expect(text).not.toContain("123");
    expect(JSON.parse(text)).toEqual({
      order_id: "abc",
      address: "•••",
      customer: "•••",
      items: [{ name: "Pizza Margherita", quantity: 1 }],
    });
    expect(messageType(envelope)).toBe("delivery.request");
  });

  it("shows entries that are not envelopes as their fields", () => {
    expect(preview({ garbage: "yes" })).toBe('{"garbage":"yes"}');
    expect(preview({ payload: "not json" })).toBe("not json");
    expect(messageType({ garbage: "yes" })).toBeNull();
  });

  it("cuts long payloads with an ellipsis", () => {
    const long = preview({ payload: "x".repeat(500) }, 20);
    expect(long).toHaveLength(20);
    expect(long.endsWith("…")).toBe(true);
  });
});
