import { Route, Routes } from "react-router";

// Placeholder: replaced by the customer pages (menu, cart, checkout, tracking).
export function CustomerRoutes() {
  return (
    <Routes>
      <Route index element={<p>Menu</p>} />
    </Routes>
  );
}
