"""The `orders-saga` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sagakit.settings import ConnectionSettings
from simulator.load import cli as simulate_cli


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orders-saga", description="Run and operate the orders-saga system."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser("up", help="run the whole system on this machine")
    up.add_argument("--port", type=int, default=8080)
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--data-dir", default=".data")
    up.add_argument(
        "--processes",
        action="store_true",
        help="run each service in a process of its own (restarted if it dies), as pods would",
    )
    up.add_argument(
        "--replicas",
        metavar="N|SERVICE=N,…",
        help="processes per service (implies --processes): N for every service, or e.g. "
        "orders=2,delivery=3,notifications=2,actors=2 (others run one)",
    )

    simulate = commands.add_parser("simulate", help="customer load, then a report")
    simulate_cli.add_arguments(simulate)

    streams = commands.add_parser("streams", help="length, lag, pending, consumers, dead letters")
    streams.add_argument("--json", action="store_true", help="print JSON")

    dlq = commands.add_parser("dlq", help="list, replay or purge dead letters")
    dlq.add_argument("action", choices=["list", "replay", "purge"])
    dlq.add_argument("--stream", help="the original stream (e.g. payments.events)")
    dlq.add_argument("--id", dest="ids", action="append", help="a dead letter's id (repeatable)")
    dlq.add_argument("--limit", type=int, default=100)

    refill = commands.add_parser("refill-stock", help="top up stock (idempotent per run)")
    amount = refill.add_mutually_exclusive_group(required=True)
    amount.add_argument("--to", type=int, help="raise every item's stock to at least N")
    amount.add_argument("--add", type=int, help="add N to every item's stock")
    refill.add_argument("--item", dest="item_ids", action="append", help="only this item")
    refill.add_argument(
        "--run-id",
        default=os.environ.get("REFILL_RUN_ID") or None,
        help="repeat-safe run id (default: $REFILL_RUN_ID, else a new one)",
    )
    return parser


def connections_for_commands(data_dir: Path) -> ConnectionSettings:
    """The environment's servers; without REDIS_URL/MONGO_URL, those of a running `up`."""
    connections = ConnectionSettings()
    runtime = data_dir / "runtime.json"
    if runtime.is_file() and not (os.environ.get("REDIS_URL") or os.environ.get("MONGO_URL")):
        found = json.loads(runtime.read_text())
        connections = connections.model_copy(
            update={key: found[key] for key in ("redis_url", "mongo_url", "mongo_db")}
        )
    return connections


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "simulate":
        return simulate_cli.run(args)
    connections = connections_for_commands(Path(os.environ.get("ORDERS_SAGA_DATA_DIR", ".data")))
    if args.command == "up":
        from orders_saga_cli.replicas import parse_replicas
        from orders_saga_cli.service_process import FACTORIES
        from orders_saga_cli.up import run_up

        replicas = None
        if args.replicas is not None:
            try:
                replicas = parse_replicas(args.replicas, FACTORIES)
            except ValueError as exc:
                print(f"orders-saga up: {exc}", file=sys.stderr)
                return 2
        return run_up(
            host=args.host,
            port=args.port,
            data_dir=args.data_dir,
            processes=args.processes or replicas is not None,
            replicas=replicas,
        )
    from orders_saga_cli import ops

    if args.command == "streams":
        return asyncio.run(ops.streams_command(connections, as_json=args.json))
    if args.command == "dlq":
        return asyncio.run(
            ops.dlq_command(
                connections, args.action, stream=args.stream, ids=args.ids, limit=args.limit
            )
        )
    if args.command == "refill-stock":
        if (args.to is not None and args.to < 0) or (args.add is not None and args.add < 1):
            print("orders-saga refill-stock: --to must be >= 0 and --add >= 1", file=sys.stderr)
            return 2
        return asyncio.run(
            ops.refill_command(
                connections, to=args.to, add=args.add, item_ids=args.item_ids, run_id=args.run_id
            )
        )
    return 2


if __name__ == "__main__":
    sys.exit(main())
