"""Servers the system can start itself when none is given: Redis and MongoDB."""

from __future__ import annotations

import ctypes
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` making the child receive SIGKILL when its parent dies (Linux).

    An owner that runs its server in a session of its own (so a terminal's Ctrl-C reaches only
    the owner, which then stops things in order) must still not leave the server behind if it
    is killed outright: `kill -9` of the owner takes its servers down with it.
    """
    if not sys.platform.startswith("linux"):
        return None

    def set_parent_death_signal() -> None:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    return set_parent_death_signal
