"""Backup of an office's data folder (docs/operations.md, "Backup and restore"); the
restore is :mod:`broker.restore`.

A backup is one uncompressed tar file (mode 0600) holding:

* ``office.db`` and ``exchange-log.db``: copies made with SQLite's online backup API while
  the daemon may run. The copies are taken together while holding the office store's write
  lock, which every flush of the journal into the log also holds, so the pair is consistent:
  the log holds exactly the entries the store has flushed. The daemon's writes wait meanwhile
  (up to the store's 30 s busy timeout; a copy of a few hundred MB takes seconds);
* ``envelopes/``: the envelope store (content-addressed and never rewritten: copied after the
  databases, so every envelope an entry names is there);
* ``directory-state.json`` and ``directory-accepted.bin``: the last accepted trust directory;
* ``manifest.json``: the office, the time, the SHA-256 and size of every file, and the log's
  entry count, root and latest checkpoint.

It holds envelopes (encrypted) and metadata (who wrote to whom, when, case references), never
private keys (back the key folder up separately, protected) and never the hand-over spool
(plaintext, the office system's).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sqlite3  # noqa: TID251 - the online backup API of both SQLite files
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Final

from broker import __version__
from broker.daemon.office import LOG_FILE, STORE_FILE
from broker.directory.store import ACCEPTED_FILE, STATE_FILE
from broker.errors import ConfigError, InputError
from broker.exchange_log import ExchangeLog
from broker.exchange_log.envelope_store import ENVELOPES_DIR

FORMAT: Final = "liaison-backup"
VERSION: Final = 1
MANIFEST: Final = "manifest.json"
DATABASES: Final = (STORE_FILE, LOG_FILE)
DIRECTORY_FILES: Final = (STATE_FILE, ACCEPTED_FILE)
BUSY_TIMEOUT_MS: Final = 30_000
_HEX_NAME: Final = re.compile(r"[0-9a-f]{62}")


def _connect(path: Path, mode: str) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True)
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot open {path}: {exc}") from None
    conn.isolation_level = None  # transactions are explicit
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return conn


def _online_copy(source: sqlite3.Connection, target: Path, what: Path) -> None:
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot copy {what}: {exc}") from None
    finally:
        copy.close()


def _copy_databases(data_dir: Path, into: Path) -> None:
    """Online copies of the store and the log, made while holding the store's write lock."""
    store = _connect(data_dir / STORE_FILE, "rw")
    try:
        try:
            store.execute("BEGIN IMMEDIATE")  # what a journal flush holds while it appends
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot lock {data_dir / STORE_FILE}: {exc}") from None
        try:
            # Copied through connections of their own: SQLite refuses to back up through the
            # connection that holds the write lock, and readers never wait for it (WAL).
            for name in DATABASES:
                reader = _connect(data_dir / name, "ro")
                try:
                    _online_copy(reader, into / name, data_dir / name)
                finally:
                    reader.close()
        finally:
            store.execute("ROLLBACK")
    finally:
        store.close()


def _log_summary(log_path: Path) -> dict[str, Any]:
    with ExchangeLog.open_existing(log_path) as log:
        size = log.size
        checkpoint = log.latest_checkpoint()
        return {
            "entries": size,
            "root": log.root(size).hex(),
            "checkpoint": None
            if checkpoint is None
            else {"size": checkpoint.size, "created_at": checkpoint.created_at.isoformat()},
        }


def _envelope_files(data_dir: Path) -> Iterator[tuple[str, Path]]:
    root = data_dir / ENVELOPES_DIR
    if not root.is_dir():
        return
    for folder in sorted(root.iterdir()):
        if not (folder.is_dir() and re.fullmatch(r"[0-9a-f]{2}", folder.name)):
            continue
        for path in sorted(folder.iterdir()):  # temporary files start with "."
            if _HEX_NAME.fullmatch(path.name) and path.is_file() and not path.is_symlink():
                yield f"{ENVELOPES_DIR}/{folder.name}/{path.name}", path


class _Hashing:
    """A file object that hashes what tarfile reads through it."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self.sha256 = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self.sha256.update(data)
        return data


def _tar_info(name: str, size: int, mtime: float) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o600, int(mtime)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _add(tar: tarfile.TarFile, name: str, path: Path, mtime: float) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            hashing = _Hashing(handle)
            tar.addfile(_tar_info(name, size, mtime), hashing)
    except OSError as exc:
        raise ConfigError(f"cannot back up {path}: {exc.strerror or exc}") from None
    return {"sha256": hashing.sha256.hexdigest(), "bytes": size}


@contextmanager
def _new_private_file(path: Path) -> Iterator[IO[bytes]]:
    """``path`` written through a temporary name in its folder (mode 0600), renamed into
    place only when complete; refused if ``path`` exists."""
    if path.exists():
        raise InputError(f"{path} exists; choose another name for the backup")
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temp, path)  # fails if path appeared meanwhile: never overwritten
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    temp.unlink()


def backup_office(data_dir: Path, out: Path, *, office_id: str, now: datetime) -> dict[str, Any]:
    """Write the backup of ``data_dir`` to ``out`` (see the module docstring); the manifest."""
    if not (data_dir / STORE_FILE).is_file() or not (data_dir / LOG_FILE).is_file():
        raise ConfigError(f"{data_dir} holds no office store and exchange log to back up")
    if not out.parent.is_dir():
        raise InputError(f"{out.parent} is not a folder; the backup cannot be written there")
    stamp = now.timestamp()
    files: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix=".liaison-backup-", dir=out.parent) as scratch:
        copies = Path(scratch)
        _copy_databases(data_dir, copies)
        log = _log_summary(copies / LOG_FILE)
        with _new_private_file(out) as handle, tarfile.open(fileobj=handle, mode="w") as tar:
            for name in DATABASES:
                files[name] = _add(tar, name, copies / name, stamp)
            for name, path in _envelope_files(data_dir):
                if path.exists():  # else purged by retention since the listing: its log says so
                    files[name] = _add(tar, name, path, stamp)
            for name in DIRECTORY_FILES:
                if (data_dir / name).is_file():
                    files[name] = _add(tar, name, data_dir / name, stamp)
            manifest = {
                "format": FORMAT,
                "version": VERSION,
                "office_id": office_id,
                "created_at": now.isoformat(),
                "liaison_version": __version__,
                "log": log,
                "files": files,
                "not_included": ["private keys", "the hand-over spool", "daemon-status.json"],
            }
            data = json.dumps(manifest, sort_keys=True, indent=1).encode() + b"\n"
            tar.addfile(_tar_info(MANIFEST, len(data), stamp), io.BytesIO(data))
    return manifest


__all__ = ["DATABASES", "DIRECTORY_FILES", "FORMAT", "MANIFEST", "VERSION", "backup_office"]
