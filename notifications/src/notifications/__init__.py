"""The notifications service of orders-saga."""
