"""Making a file system change durable: the helpers every file edge shares.

A new or renamed file's name is durable only once its folder is fsynced (POSIX leaves it to the
file system otherwise); the envelope store, the directory state, key files, the spool and the
restore all need that after their rename or link.

The daemon writes several files per message (the envelope that came, the receipt it sends, the
hand-over file), each with an fsync of its data and one of its folder: about 0.3 ms each on a
virtio disk, most of a message's cost. :class:`FileBatch` lets a batch of messages share them:
inside ``batch()`` a writer leaves its data in a temporary file and hands the final name to the
batch; at the end the batch syncs each file system once (``syncfs``), only then puts the files
under their final names, and syncs again. A final name therefore still only ever holds a whole
file, before and after a crash, and the batch's end comes before the daemon commits and acks.
Without a ``syncfs`` that reports write-back errors (not Linux, or a kernel before 5.8)
``batch()`` changes nothing: each write syncs itself as before.
"""

from __future__ import annotations

import ctypes
import os
import platform
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from broker.errors import ConfigError

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def fsync_dir(folder: Path) -> None:
    """fsync ``folder`` so the names created or renamed in it survive a crash (OSError as is:
    each caller names what failed in its own error)."""
    fd = os.open(folder, _DIR_FLAGS)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _reports_errors(release: str) -> bool:
    """Whether a Linux kernel's syncfs reports write-back errors: from 5.8 on (before, it
    could return 0 for data that never reached the disk)."""
    found = re.match(r"(\d+)\.(\d+)", release)
    return found is not None and (int(found[1]), int(found[2])) >= (5, 8)


def _load_syncfs() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux") or not _reports_errors(platform.release()):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        syncfs: Callable[[int], int] = libc.syncfs
    except (OSError, AttributeError):
        return None
    syncfs.argtypes = [ctypes.c_int]  # type: ignore[attr-defined]
    syncfs.restype = ctypes.c_int  # type: ignore[attr-defined]
    return syncfs


_SYNCFS = _load_syncfs()


def sweep_leftovers(folders: Iterable[Path], *, older_than: float, now: float) -> int:
    """Remove the ``.<name>.<random>.tmp`` files a crash left in ``folders`` (a batch's files
    wait under such names until its end), if last modified more than ``older_than`` seconds
    before ``now`` (a younger one may belong to a writer at work). How many were removed."""
    removed = 0
    for folder in folders:
        try:
            candidates = [p for p in folder.iterdir() if p.name.startswith(".")]
        except FileNotFoundError:
            continue
        for path in candidates:
            if not path.name.endswith(".tmp"):
                continue
            with suppress(FileNotFoundError):
                if path.is_file() and now - path.stat().st_mtime > older_than:
                    path.unlink()
                    removed += 1
    return removed


@dataclass(frozen=True, slots=True)
class _Placement:
    temp: Path
    final: Path
    replace: bool  # rename over an existing file, or link (an existing name wins)


class FileBatch:
    """Defers the fsyncs of the files written inside ``batch()`` to one ``syncfs`` per file
    system at its end. One per daemon core thread; not thread-safe."""

    def __init__(self, *, syncfs: Callable[[int], int] | None = _SYNCFS) -> None:
        self._syncfs = syncfs
        # One open folder per file system, kept until close(): syncfs reports the write-back
        # errors of its file system since the descriptor was opened.
        self._fds: dict[int, int] = {}
        self._device_of: dict[Path, int] = {}  # a folder's file system, looked up once
        self._pending: dict[Path, _Placement] | None = None
        self._devices: set[int] = set()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Files handed to :meth:`place` inside are durable under their names when it ends
        without an exception; after one, none of them is put in place."""
        if self._syncfs is None or self._pending is not None:
            yield  # no syncfs, or an outer batch does the work
            return
        self._pending = {}
        try:
            yield
            try:
                self._finish(self._pending)
            except OSError as exc:
                raise ConfigError(
                    f"cannot make the batch's files durable: {exc.strerror or exc}"
                ) from None
        finally:
            for each in self._pending.values():
                each.temp.unlink(missing_ok=True)
            self._pending = None
            self._devices.clear()

    def deferring(self, folder: Path) -> bool:
        """Whether a file about to be written in ``folder`` may skip its fsyncs and be handed
        to :meth:`place`. Call it before writing: the first write to a file system syncs
        itself, while the batch starts watching that file system's errors."""
        if self._pending is None:
            return False
        device = self._device_of.get(folder)
        if device is None:
            device = self._device_of[folder] = folder.stat().st_dev
        if device not in self._fds:
            self._fds[device] = os.open(folder, _DIR_FLAGS)
            return False
        self._devices.add(device)
        return True

    def place(self, temp: Path, final: Path, *, replace: bool) -> None:
        """Put the written ``temp`` under ``final`` once its data is durable (after
        ``deferring`` said yes for its folder)."""
        assert self._pending is not None  # noqa: S101 - deferring() said so
        if final in self._pending:
            temp.unlink()  # the first file for a name wins, as it would on disk
            return
        self._pending[final] = _Placement(temp, final, replace)

    def pending(self, final: Path) -> Path | None:
        """The temporary file that will become ``final`` at the batch's end, if any."""
        placement = None if self._pending is None else self._pending.get(final)
        return None if placement is None else placement.temp

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def _finish(self, pending: dict[Path, _Placement]) -> None:
        if not pending:
            return
        self._sync()  # the data, before any final name can point at it
        for each in pending.values():
            if each.replace:
                each.temp.replace(each.final)
            else:
                with suppress(FileExistsError):  # written already: never replaced
                    each.final.hardlink_to(each.temp)
                each.temp.unlink()
        pending.clear()
        self._sync()  # the names

    def _sync(self) -> None:
        assert self._syncfs is not None  # noqa: S101 - batch() only defers with syncfs
        for device in sorted(self._devices):
            if self._syncfs(self._fds[device]) != 0:
                err = ctypes.get_errno()
                raise OSError(err, os.strerror(err))
