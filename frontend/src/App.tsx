import { Route, Routes } from "react-router";
import { CustomerRoutes } from "./customer/routes";
import { OpsPage } from "./ops/OpsPage";
import { Layout } from "./shell/Layout";

export function App() {
  return (
    <Routes>
      <Route element={<Layout />}>
        <Route path="/ops" element={<OpsPage />} />
        <Route path="/*" element={<CustomerRoutes />} />
      </Route>
    </Routes>
  );
}
