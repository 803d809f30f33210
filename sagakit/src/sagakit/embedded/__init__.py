"""Servers the system can start itself when none is given: Redis and MongoDB."""
