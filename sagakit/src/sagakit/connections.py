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

    Its pool makes a command wait (up to 10 s) for a free connection when `max_connections`
    are busy, instead of failing, so a burst of handlers queues rather than errors.
    """
    pool = BlockingConnectionPool.from_url(
        url,
        decode_responses=True,
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
    """An ``AsyncMongoClient`` with short server selection and aware (UTC) datetimes.

    ``kwargs`` override the defaults (any ``AsyncMongoClient`` option).
    """
    options: dict[str, Any] = {
        "serverSelectionTimeoutMS": 5000,
        "connectTimeoutMS": 5000,
        "tz_aware": True,
    }
    options.update(kwargs)
    return AsyncMongoClient(url, **options)
