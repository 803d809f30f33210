"""The simulator service of orders-saga."""
