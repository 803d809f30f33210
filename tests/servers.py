"""Redis and MongoDB servers that a fault test owns, each on a port fixed for the whole test, so
the test can kill and restart them under a running `orders-saga up` (which is pointed at them
with REDIS_URL / MONGO_URL and then starts no embedded server of its own)."""

from __future__ import annotations

import shutil
from pathlib import Path

from sagakit.embedded.mongo import EmbeddedMongo
from sagakit.embedded.redis import RedisServer, free_port


class OwnedRedis(RedisServer):
    """Redis with AOF (appendfsync everysec, as `up`'s embedded one) on a fixed port."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir, port=free_port(), appendonly=True)

    def crash(self) -> None:
        """SIGKILL: no shutdown, no final AOF rewrite or fsync."""
        self.kill()

    def restart_empty(self) -> None:
        """SIGKILL, then start with no data at all: streams, groups, keys and PELs are gone."""
        self.kill()
        shutil.rmtree(self.data_dir)
        self.start()


class OwnedMongo(EmbeddedMongo):
    """The embedded MongoDB (nx-27017) on a fixed port, restarted on the same data."""

    def __init__(self, data_dir: Path) -> None:
        super().__init__(data_dir, port=free_port())

    @property
    def fixed_url(self) -> str:
        """The URL whether or not the server is running right now."""
        return f"mongodb://{self.host}:{self.port}/?directConnection=true"
