import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { ThemeToggle } from "./ThemeToggle";

beforeEach(() => {
  localStorage.clear();
  document.documentElement.classList.remove("dark");
});

test("switches between light and dark, and remembers the choice", async () => {
  localStorage.setItem("orders-saga.theme", "light");
  const { unmount } = render(<ThemeToggle />);
  expect(document.documentElement).not.toHaveClass("dark");

  await userEvent.click(screen.getByRole("button", { name: "Switch to dark theme" }));
  expect(document.documentElement).toHaveClass("dark");
  expect(localStorage.getItem("orders-saga.theme")).toBe("dark");
  unmount();

  render(<ThemeToggle />);
  expect(document.documentElement).toHaveClass("dark");
  expect(screen.getByRole("button", { name: "Switch to light theme" })).toBeInTheDocument();
});
