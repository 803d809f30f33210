import { Route, Routes } from "react-router";
import { CheckoutPage } from "./CheckoutPage";
import { MenuPage } from "./MenuPage";
import { NotFoundPage } from "./NotFoundPage";
import { OrdersPage } from "./OrdersPage";
import { TrackPage } from "./TrackPage";

export function CustomerRoutes() {
  return (
    <Routes>
      <Route index element={<MenuPage />} />
      <Route path="checkout" element={<CheckoutPage />} />
      <Route path="orders" element={<OrdersPage />} />
      <Route path="track/:orderId" element={<TrackPage />} />
      <Route path="*" element={<NotFoundPage />} />
    </Routes>
  );
}
