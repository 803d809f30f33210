"""`up --replicas`: how many processes per service, and what each replica is called."""

from __future__ import annotations

import pytest

from orders_saga_cli.main import main
from orders_saga_cli.replicas import consumer_name, parse_replicas, replica_names

SERVICES = ("orders", "delivery", "notifications", "actors")


def test_one_number_applies_to_every_service() -> None:
    assert parse_replicas("3", SERVICES) == dict.fromkeys(SERVICES, 3)


def test_named_services_get_their_count_and_the_rest_one() -> None:
    assert parse_replicas("orders=2, delivery=3", SERVICES) == {
        "orders": 2,
        "delivery": 3,
        "notifications": 1,
        "actors": 1,
    }


@pytest.mark.parametrize("text", ["0", "9", "orders=0", "orders", "kitchen=2", "orders=two", "-1"])
def test_bad_counts_and_unknown_services_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"--replicas|replica count"):
        parse_replicas(text, SERVICES)


def test_up_refuses_a_bad_replica_option_before_starting_anything(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["up", "--replicas", "kitchen=2", "--data-dir", "/nonexistent/x"]) == 2
    assert "SERVICE one of orders, delivery, notifications, actors" in capsys.readouterr().err


def test_replica_and_consumer_names_are_stable_and_distinct() -> None:
    assert replica_names("orders", 1) == ["orders"]
    assert replica_names("orders", 3) == ["orders-1", "orders-2", "orders-3"]
    names = [consumer_name("local", i) for i in (1, 2, 3)]
    assert names == ["local", "local-2", "local-3"]  # the first keeps a lone replica's name
