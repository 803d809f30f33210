"""DESIGN.md §6, restated for the deployment tests: which service owns which public path
prefix. The chart's Ingress, the compose gateway and the nginx configs are checked against it
(deliberately not against the code's own table, `orders_saga_cli.gateway.ROUTES`)."""

ROUTES = {
    "/api/menu": "orders",
    "/api/orders": "orders",
    "/api/stock": "orders",
    "/api/deliveries": "delivery",
    "/api/couriers": "delivery",
    "/api/tracking": "notifications",
    "/ws/tracking": "notifications",
    "/api/ops": "notifications",
    "/ws/ops": "notifications",
}
