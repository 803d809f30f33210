"""The orders service of orders-saga."""
