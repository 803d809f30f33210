"""How many processes of each service `up --processes` runs, and what each replica is called.

`--replicas 2` runs two of every service; `--replicas orders=2,delivery=3` names some (the rest
run one). Replica names are stable across restarts, like a StatefulSet's pods: `orders` when a
service runs alone, else `orders-1` … `orders-N`; so are their consumer names (`<base>` for the
first, `<base>-<i>` for the others), so a restarted replica takes back its own pending entries.
"""

from __future__ import annotations

from collections.abc import Iterable

MAX_REPLICAS = 8


def parse_replicas(text: str, services: Iterable[str]) -> dict[str, int]:
    """`'2'` or `'orders=2,delivery=3'` -> a count per service (1 where not named)."""
    known = list(services)
    text = text.strip()
    if text.isdigit():
        return dict.fromkeys(known, _count(text, "--replicas"))
    counts = dict.fromkeys(known, 1)
    for part in filter(None, (p.strip() for p in text.split(","))):
        service, sep, value = part.partition("=")
        service = service.strip()
        if not sep or service not in counts:
            raise ValueError(
                f"--replicas: expected N or SERVICE=N[,SERVICE=N…] with SERVICE one of "
                f"{', '.join(known)}; got {part!r}"
            )
        counts[service] = _count(value.strip(), service)
    return counts


def _count(value: str, what: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= MAX_REPLICAS:
        raise ValueError(f"{what}: a replica count is a whole number from 1 to {MAX_REPLICAS}")
    return int(value)


def replica_names(service: str, count: int) -> list[str]:
    return [service] if count == 1 else [f"{service}-{i}" for i in range(1, count + 1)]


def consumer_name(base: str, index: int) -> str:
    """The consumer name of a service's replica number `index` (from 1)."""
    return base if index == 1 else f"{base}-{index}"
