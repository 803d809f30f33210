"""`orders-saga simulate`: options and entry point. Exit code 0 when the invariants hold, 1 when
they do not, 2 when the run could not start (bad options, target unreachable)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson

from simulator.load.report import as_json, figures, format_text
from simulator.load.runner import RunResult, SimulateOptions, simulate
from simulator.load.schedule import Profile

T = TypeVar("T")

DEFAULT_TARGET = "http://127.0.0.1:8080"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=_positive, required=True, help="orders per second")
    parser.add_argument(
        "--duration", type=_seconds, required=True, help="how long to send: 20, 20s or 2m"
    )
    parser.add_argument(
        "--profile",
        type=Profile,
        choices=list(Profile),
        default=Profile.CONSTANT,
        help="constant: RATE; ramp: 0 up to RATE; spike: RATE/4 with 4*RATE in the middle fifth",
    )
    parser.add_argument("--target", default=os.environ.get("ORDERS_SAGA_URL", DEFAULT_TARGET))
    parser.add_argument(
        "--track",
        type=_fraction,
        default=1.0,
        metavar="all|FRACTION",
        help="orders followed live over WebSockets (the rest are read at the end)",
    )
    parser.add_argument("--seed", type=int, default=1, help="order contents are reproducible")
    parser.add_argument(
        "--drain-timeout",
        type=_seconds,
        default=60.0,
        help="after the schedule, wait this long for every order to be terminal",
    )
    parser.add_argument(
        "--operator-key",
        default=os.environ.get("OPERATOR_API_KEY") or None,
        help="X-API-Key to list refills during the run (default: $OPERATOR_API_KEY)",
    )
    parser.add_argument(
        "--restock-to",
        type=int,
        metavar="N",
        help="raise every item's stock to N before the run (needs the operator key)",
    )
    parser.add_argument("--json", type=Path, metavar="FILE", help="write every figure as JSON")
    parser.add_argument("--png", type=Path, metavar="FILE", help="write a chart")
    parser.add_argument("--max-connections", type=int, default=512, help="HTTP pool size")
    parser.add_argument("--max-sockets", type=int, default=5000, help="open WebSockets at most")
    parser.add_argument("--http-timeout", type=_positive, default=30.0, help="seconds")


def run(args: argparse.Namespace) -> int:
    if args.restock_to is not None and not args.operator_key:
        print("orders-saga simulate: --restock-to needs --operator-key", file=sys.stderr)
        return 2
    _raise_open_files_limit()
    options = SimulateOptions(
        rate=args.rate,
        duration_s=args.duration,
        profile=args.profile,
        target=args.target.rstrip("/"),
        track_fraction=args.track,
        seed=args.seed,
        drain_timeout_s=args.drain_timeout,
        operator_key=args.operator_key,
        restock_to=args.restock_to,
        max_connections=args.max_connections,
        max_sockets=args.max_sockets,
        http_timeout_s=args.http_timeout,
    )
    try:
        result = _run_loop(_simulate(options))
    except KeyboardInterrupt:
        return _interrupted()
    return report(result, json_path=args.json, png_path=args.png)


async def _simulate(options: SimulateOptions) -> RunResult | None:
    try:
        return await simulate(options)
    except httpx.HTTPError as exc:
        print(f"orders-saga simulate: cannot use {options.target}: {exc!r}", file=sys.stderr)
        return None


def report(
    result: RunResult | None, *, json_path: Path | None = None, png_path: Path | None = None
) -> int:
    """Print the report (its last line is the summary), write the files asked for; the exit
    code."""
    if result is None:
        return 2
    figs = figures(result)
    if json_path is not None:
        json_path.write_bytes(orjson.dumps(as_json(result, figs), option=orjson.OPT_INDENT_2))
    if png_path is not None:
        from simulator.load.chart import write_png  # matplotlib takes a second to import

        write_png(result, figs, png_path)
    print(format_text(result, figs), flush=True)
    return 0 if result.ok else 1


def _run_loop(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def _interrupted() -> int:
    print("orders-saga simulate: interrupted, no report", file=sys.stderr)
    return 130


def _raise_open_files_limit() -> None:
    """A socket per tracked order: allow as many open files as the system lets us."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number: {text}")
    return value


def _seconds(text: str) -> float:
    scale = {"s": 1.0, "m": 60.0, "h": 3600.0}.get(text[-1:].lower())
    try:
        return _positive(text[:-1]) * scale if scale else _positive(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a duration: {text}") from exc


def _fraction(text: str) -> float:
    if text == "all":
        return 1.0
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'all' or a fraction in [0, 1]: {text}") from exc
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"'all' or a fraction in [0, 1]: {text}")
    return value
