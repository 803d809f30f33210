import { outcomeSummary, reasonBars, reasonSummary, statusBars } from "./outcomes";

const outcomes = {
  total: 20,
  by_status: { cancelled: 4, placed: 2, delivered: 13, picked_up: 1 },
  cancelled_by_reason: { payment_declined: 1, timeout: 3, no_courier: 0 },
};

describe("outcome charts", () => {
  it("orders statuses along the saga and colours the end states", () => {
    expect(statusBars(outcomes)).toEqual([
      { label: "Placed", value: 2, tone: "neutral" },
      { label: "Picked up", value: 1, tone: "neutral" },
      { label: "Delivered", value: 13, tone: "good" },
      { label: "Cancelled", value: 4, tone: "bad" },
    ]);
  });

  it("sorts cancellation reasons by count", () => {
    expect(reasonBars(outcomes).map((b) => [b.label, b.value])).toEqual([
      ["Timeout", 3],
      ["Payment declined", 1],
      ["No courier", 0],
    ]);
  });

  it("summarises in words for screen readers", () => {
    expect(outcomeSummary(outcomes)).toBe(
      "20 orders: 13 delivered (65%), 4 cancelled (20%), 3 in progress (15%).",
    );
    expect(reasonSummary(outcomes)).toBe("Cancellations by reason: timeout 3, payment declined 1.");
    expect(outcomeSummary({ total: 0, by_status: {}, cancelled_by_reason: {} })).toBe(
      "No orders yet.",
    );
  });
});
