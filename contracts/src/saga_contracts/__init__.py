"""What the orders-saga services agree on: streams, groups, messages, tracking tokens."""
