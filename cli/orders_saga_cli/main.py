"""The `orders-saga` command line."""

import sys


def main() -> int:
    print("orders-saga: `up` is coming (see the README)", file=sys.stderr)
    return 2
