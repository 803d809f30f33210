"""Clients for Redis and MongoDB, and which of their failures are the system's, not the input's."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo import errors as pymongo_errors
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# Failures of a dependency, not of the message or request: a timeout, or Redis/MongoDB
# unreachable or too slow. The worker retries them without counting a delivery (never
# dead-lettered); the HTTP layer answers them with 503 and Retry-After.
TRANSIENT_ERRORS = (
    TimeoutError,
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    pymongo_errors.AutoReconnect,
    pymongo_errors.NetworkTimeout,
    pymongo_errors.ServerSelectionTimeoutError,
    pymongo_errors.ExecutionTimeout,
    pymongo_errors.WaitQueueTimeoutError,
)


def redis_client(
    url: str, *, socket_timeout: float | None = 10.0, max_connections: int = 50
) -> Redis:
    """A client decoding replies to str; one per purpose, never shared with a blocking read.

    Bytes that are not UTF-8 decode to lone surrogates (`surrogateescape`, which hiredis
    honours too) rather than failing the whole reply: one undecodable stream entry must not
    fail every read that returns it (`sagakit.undecodable`). Such text encodes back to the
    same bytes.

    Its pool makes a command wait (up to 10 s) for a free connection when `max_connections`
    are busy, instead of failing, so a burst of handlers queues rather than errors.
    """
    pool = BlockingConnectionPool.from_url(
        url,
        decode_responses=True,
        encoding_errors="surrogateescape",
        socket_timeout=socket_timeout,
        socket_connect_timeout=5.0,
        health_check_interval=30,
        max_connections=max_connections,
        timeout=10,
    )
    return Redis.from_pool(pool)


def is_nogroup(exc: BaseException) -> bool:
    return "NOGROUP" in str(exc)


def mongo_client(url: str, **kwargs: Any) -> AsyncMongoClient[dict[str, Any]]:
    """An ``AsyncMongoClient`` with short server selection, aware (UTC) datetimes and no
    driver-level write retry.

    Why ``retryWrites=False``: with pymongo 4.20's async client, the retry of a write that hit
    a restarting server fails on the paused connection pool and is then handled as a fresh
    network error, which clears the pool again just after the monitor made it ready. Under
    concurrent load this repeats for as long as writes keep coming: after a 1 s MongoDB
    restart a service could not write for 25-40 s (tests/test_faults_servers.py,
    sagakit/tests/integration/test_mongo_restart.py), long enough for saga deadlines to
    cancel orders. The application retries every failed write itself (the worker waits out
    transient errors, HTTP answers 503) and every write is guarded, so the driver's one retry
    adds nothing. ``kwargs`` override the defaults (any ``AsyncMongoClient`` option).
    """
    options: dict[str, Any] = {
        "serverSelectionTimeoutMS": 5000,
        "connectTimeoutMS": 5000,
        "tz_aware": True,
        "retryWrites": False,
    }
    options.update(kwargs)
    return AsyncMongoClient(url, **options)
