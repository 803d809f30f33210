import { render, screen } from "@testing-library/react";
import { ConnectionIndicator } from "./ConnectionIndicator";

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date("2026-01-01T10:00:00Z"));
});
afterEach(() => vi.useRealTimers());

describe("ConnectionIndicator", () => {
  it("announces the state, not every reconnect attempt or second", () => {
    const { rerender } = render(
      <ConnectionIndicator status={{ state: "connecting", retrying: false }} />,
    );
    expect(screen.getByRole("status")).toHaveTextContent("Connecting to the live feed…");
    rerender(<ConnectionIndicator status={{ state: "live" }} />);
    expect(screen.getByRole("status")).toHaveTextContent(/^Live$/);

    rerender(
      <ConnectionIndicator status={{ state: "waiting", retryAt: Date.now() + 4000, attempt: 2 }} />,
    );
    expect(screen.getByRole("status")).toHaveTextContent(/^Live feed lost — polling every 5 s$/);
    expect(screen.getByText(", retry in 4 s")).toBeInTheDocument();
    rerender(<ConnectionIndicator status={{ state: "connecting", retrying: true }} />);
    expect(screen.getByRole("status")).toHaveTextContent(/^Live feed lost — polling every 5 s$/);
    expect(screen.getByText(/reconnecting…/)).toBeInTheDocument();
  });
});
