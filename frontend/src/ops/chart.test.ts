import { linePath, niceMax } from "./chart";

describe("niceMax", () => {
  it("rounds up to 1, 2 or 5 times a power of ten", () => {
    expect([0, 0.3, 1, 1.2, 3, 7, 12, 99, 101].map(niceMax)).toEqual([
      1, 0.5, 1, 2, 5, 10, 20, 100, 200,
    ]);
  });
});

describe("linePath", () => {
  const box = { start: 0, end: 100, max: 10, width: 100, height: 10 };

  it("maps time to x and value to y (0 at the bottom)", () => {
    expect(
      linePath(
        [
          { at: 0, value: 0 },
          { at: 50, value: 5 },
          { at: 100, value: 10 },
        ],
        box,
      ),
    ).toBe("M0.0,10.0 L50.0,5.0 L100.0,0.0");
  });

  it("breaks the line at unknown values and skips points before the window", () => {
    const points = [
      { at: -10, value: 1 },
      { at: 10, value: 1 },
      { at: 20, value: null },
      { at: 30, value: 2 },
      { at: 40, value: 20 }, // clipped to the top
    ];
    expect(linePath(points, box)).toBe("M10.0,9.0 M30.0,8.0 L40.0,0.0");
  });
});
