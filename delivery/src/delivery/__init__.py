"""The delivery service of orders-saga."""
