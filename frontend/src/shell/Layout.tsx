import { NavLink, Outlet } from "react-router";
import { CartBadge } from "../customer/CartBadge";
import { CartProvider } from "../customer/CartProvider";
import { ThemeToggle } from "./ThemeToggle";

const link = ({ isActive }: { isActive: boolean }) =>
  `rounded px-3 py-2 text-sm font-medium focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600 ${
    isActive
      ? "bg-indigo-600 text-white"
      : "text-slate-700 hover:bg-slate-100 dark:text-slate-200 dark:hover:bg-slate-800"
  }`;

export function Layout() {
  return (
    <CartProvider>
      <div className="min-h-screen">
        <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:p-2">
          Skip to content
        </a>
        <header className="border-b border-slate-200 dark:border-slate-800">
          <nav
            aria-label="Main"
            className="mx-auto flex max-w-6xl flex-wrap items-center gap-2 px-4 py-3"
          >
            <span className="mr-auto text-lg font-bold">orders-saga</span>
            <NavLink to="/" end className={link}>
              Menu
            </NavLink>
            <NavLink to="/orders" className={link}>
              My orders
            </NavLink>
            <CartBadge className={link} />
            <NavLink to="/ops" className={link}>
              Operations
            </NavLink>
            <ThemeToggle />
          </nav>
        </header>
        <main id="main" className="mx-auto max-w-6xl px-4 py-6">
          <Outlet />
        </main>
      </div>
    </CartProvider>
  );
}
