"""Order contents, which orders are tracked, and option parsing."""

from __future__ import annotations

import argparse
import itertools

import pytest

from simulator.load.cli import add_arguments
from simulator.load.contents import order_contents
from simulator.load.runner import is_tracked
from simulator.load.schedule import Profile

MENU = ["margherita", "carbonara", "tiramisu", "espresso", "caesar"]


def test_contents_are_reproducible_from_the_seed_and_use_only_the_menu() -> None:
    first = order_contents(MENU, 200, seed=7, run_id="a")
    again = order_contents(list(reversed(MENU)), 200, seed=7, run_id="b")
    assert [o.body for o in first] == [o.body for o in again]
    assert [o.body for o in order_contents(MENU, 200, seed=8, run_id="a")] != [
        o.body for o in first
    ]
    for order in first:
        items = [line["item_id"] for line in order.body["items"]]
        assert 1 <= len(items) <= 3
        assert len(set(items)) == len(items)
        assert set(items) <= set(MENU)
        assert all(1 <= line["quantity"] <= 3 for line in order.body["items"])
    assert {len(o.body["items"]) for o in first} == {1, 2, 3}


def test_each_order_of_each_run_has_its_own_idempotency_key() -> None:
    keys = {o.idempotency_key for o in order_contents(MENU, 50, seed=1, run_id="a")}
    keys |= {o.idempotency_key for o in order_contents(MENU, 50, seed=1, run_id="b")}
    assert len(keys) == 100


@pytest.mark.parametrize(("fraction", "tracked"), [(1.0, 1000), (0.1, 100), (0.25, 250), (0, 0)])
def test_a_fraction_of_orders_is_tracked_evenly(fraction: float, tracked: int) -> None:
    chosen = [n for n in range(1000) if is_tracked(n, fraction)]
    assert len(chosen) == tracked
    if 0 < fraction < 1:
        assert max(b - a for a, b in itertools.pairwise(chosen)) <= 1 / fraction + 1


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(["--rate", "50", *argv])


def test_options() -> None:
    args = parse("--duration", "2m", "--profile", "spike", "--track", "all")
    assert (args.duration, args.profile, args.track) == (120.0, Profile.SPIKE, 1.0)
    args = parse("--duration", "20", "--track", "0.1")
    assert (args.duration, args.track, args.drain_timeout) == (20.0, 0.1, 60.0)


@pytest.mark.parametrize(
    "argv", [("--duration", "0"), ("--duration", "x"), ("--duration", "1", "--track", "2")]
)
def test_bad_options_are_refused(argv: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit):
        parse(*argv)
