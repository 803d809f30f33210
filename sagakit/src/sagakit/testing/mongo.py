"""MongoDB for tests: a real server when one is available, else the embedded one.

Where the server comes from, in order (see the ``mongo_url`` fixture):

1. ``MONGO_URL`` in the environment: used as is (nothing is started or stopped);
2. a Docker engine that answers: a ``mongo:7.0`` single-member replica set under testcontainers;
3. otherwise the embedded ``nx-27017`` server (:class:`sagakit.embedded.mongo.EmbeddedMongo`)
   in a temporary directory.

Datetimes: :func:`mongo_client` sets ``tz_aware=True``; datetimes come back aware, in UTC,
truncated to the millisecond. nx-27017 0.8.1 stores a bare datetime written by ``$set`` on an
existing document as a *string* and compares datetimes in whole seconds; see
``sagakit/tests/integration/test_mongo_contract.py`` for what is safe to use.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import pytest_asyncio
from pymongo import MongoClient
from pymongo.asynchronous.database import AsyncDatabase

from sagakit.connections import mongo_client
from sagakit.embedded.mongo import EmbeddedMongo, is_nx27017, ping

__all__ = [
    "docker_available",
    "is_nx27017",
    "mongo_client",
    "mongo_db",
    "mongo_replica_set_container",
    "mongo_url",
]

MONGO_IMAGE = "mongo:7.0"


def docker_available(timeout_s: float = 5.0) -> bool:
    """True when a ``docker`` CLI is on PATH and ``docker info`` succeeds within ``timeout_s``."""
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        result = subprocess.run(
            [docker, "info"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


@contextlib.contextmanager
def mongo_replica_set_container(image: str = MONGO_IMAGE, timeout_s: float = 60.0) -> Iterator[str]:
    """Start MongoDB as a single-member replica set ``rs0`` in Docker; yields its URL.

    The URL uses ``directConnection=true``: the member is registered as ``localhost:27017``
    (its own address inside the container), which the host cannot resolve to the mapped port.
    """
    from testcontainers.core.container import DockerContainer

    container = (
        DockerContainer(image)
        .with_command(["--replSet", "rs0", "--bind_ip_all"])
        .with_exposed_ports(27017)
    )
    with container:
        host = container.get_container_host_ip()
        port = container.get_exposed_port(27017)
        url = f"mongodb://{host}:{port}/?directConnection=true"
        deadline = time.monotonic() + timeout_s
        while not ping(url, 1.0):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{image} did not answer ping at {url} within {timeout_s} s")
            time.sleep(0.2)
        client: MongoClient[dict[str, Any]] = MongoClient(url, serverSelectionTimeoutMS=5000)
        try:
            client.admin.command(
                "replSetInitiate",
                {"_id": "rs0", "members": [{"_id": 0, "host": "localhost:27017"}]},
            )
            while not client.admin.command("hello").get("isWritablePrimary"):
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"replica set rs0 at {url} has no PRIMARY after {timeout_s} s"
                    )
                time.sleep(0.2)
        finally:
            client.close()
        yield url


@pytest.fixture(scope="session")
def mongo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of the MongoDB server for this test session (see the module docstring)."""
    env_url = os.environ.get("MONGO_URL")
    if env_url:
        yield env_url
    elif docker_available():
        with mongo_replica_set_container() as url:
            yield url
    else:
        with EmbeddedMongo(tmp_path_factory.mktemp("mongo")) as server:
            yield server.url


@pytest_asyncio.fixture
async def mongo_db(mongo_url: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """A fresh database (``t_<12 hex>``) on the session's server, dropped after the test."""
    client = mongo_client(mongo_url)
    name = f"t_{uuid.uuid4().hex[:12]}"
    try:
        yield client[name]
    finally:
        try:
            await client.drop_database(name)
        finally:
            await client.close()
