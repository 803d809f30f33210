"""The Redis versions the runtime supports: 6.2 and later.

Older servers lack what the runtime relies on (XAUTOCLAIM and XTRIM MINID both came in 6.2),
so a worker refuses to start on one rather than fail later, command by command.
"""

from __future__ import annotations

from redis.asyncio import Redis

MINIMUM = (6, 2)


class UnsupportedRedis(RuntimeError):
    """The Redis server is older than the runtime supports."""


def parse_version(text: str) -> tuple[int, ...]:
    """`"7.0.15"` -> `(7, 0, 15)`; raises ValueError for anything that is not dotted numbers."""
    parts = text.strip().split(".")
    if not text.strip() or not all(part.isdigit() for part in parts):
        raise ValueError(f"not a Redis version: {text!r}")
    return tuple(int(part) for part in parts)


def check_version(text: str) -> None:
    """Raise UnsupportedRedis, naming the version found, when it is older than `MINIMUM`."""
    try:
        version = parse_version(text)
    except ValueError as exc:
        raise UnsupportedRedis(f"cannot tell the Redis server's version ({exc})") from exc
    if version < MINIMUM:
        needed = ".".join(map(str, MINIMUM))
        raise UnsupportedRedis(
            f"Redis {text} found; sagakit needs Redis {needed} or later (XAUTOCLAIM, XTRIM MINID)"
        )


async def require_supported_redis(redis: Redis) -> None:
    """Ask the server its version (INFO server) and refuse one older than `MINIMUM`."""
    info = await redis.info("server")
    check_version(str(info.get("redis_version", "")))
