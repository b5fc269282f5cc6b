"""The daemon's housekeeping: the data folder's lock, log checkpoints, the directory file's
changes. Small I/O helpers for the core thread.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from broker.amqp import LinkHealth
from broker.directory import Directory
from broker.errors import ConfigError
from broker.exchange_log import EventType, ExchangeLog, LogEntry
from broker.ledger import Ed25519Signer


class FolderLock:
    """An exclusive ``flock`` on ``<data_dir>/daemon.lock``: one daemon per data folder. The
    kernel releases it when the process dies, so a crash never leaves a stale lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def take(self) -> None:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise ConfigError(f"cannot open {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ConfigError(
                f"another liaison daemon is running with data folder {self.path.parent}"
            ) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None


class Checkpointer:
    """Signs a checkpoint of the log after ``every`` new entries, or after ``interval``
    seconds if it grew at all, or when forced (at stop)."""

    def __init__(
        self,
        log: ExchangeLog,
        signer: Callable[[], Ed25519Signer],
        *,
        every: int,
        interval: float,
        clock: Callable[[], datetime],
    ) -> None:
        self._log = log
        self._signer = signer
        self._every = every
        self._interval = interval
        self._clock = clock
        checkpoints = log.checkpoints()
        self._size = checkpoints[-1].size if checkpoints else 0
        self._at = time.monotonic()

    def maybe(self, *, force: bool = False) -> int | None:
        """The new checkpoint's size, or None when none was due."""
        grown = self._log.size - self._size
        due = time.monotonic() - self._at >= self._interval
        if grown <= 0 or not (force or due or grown >= self._every):
            return None
        stored = self._log.checkpoint(self._signer(), self._clock())
        self._size, self._at = stored.size, time.monotonic()
        return stored.size


class FileWatch:
    """Tells when a file changed (modification time or size) since the last look."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp = self._read()

    def _read(self) -> tuple[int, int] | None:
        try:
            info = self.path.stat()
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    def changed(self) -> bool:
        stamp = self._read()
        if stamp is None or stamp == self._stamp:
            return False
        self._stamp = stamp
        return True


def directory_loaded(directory: Directory, now: datetime) -> LogEntry:
    return LogEntry(
        EventType.DIRECTORY_LOADED,
        now,
        directory_version=directory.version,
        directory_digest=directory.digest,
    )


def link_summary(health: LinkHealth | None, state: str) -> dict[str, Any]:
    """The link's part of the status file (``state``: the last one reported, before start)."""
    if health is None:
        return {"state": state}
    return {
        "state": str(health.state),
        "url": health.url,
        "last_error": health.last_error,
        "reconnect_count": health.reconnect_count,
        "unconfirmed_publishes": health.unconfirmed_publishes,
        "unacked_deliveries": health.unacked_deliveries,
    }
