"""The envelope store: every envelope the office sent or received, by its SHA-256. An I/O edge.

``<root>/ab/cdef...`` holds the envelope whose SHA-256 is ``abcdef...`` (hex; the first two
digits name the subfolder). The name is the digest the exchange log records, so the log needs
no pointer and a stored file that does not hash to its name is visibly damaged. Files are
written atomically: a new temporary file in the same folder, fsync, rename, fsync of the
folder; a reader sees a whole envelope or none. Files are never rewritten; retention deletes
them (:mod:`broker.exchange_log.retention`). Failures to write are ConfigError naming the path;
a file that cannot be read back is an IntegrityError.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

from broker.durable import FileBatch, fsync_dir
from broker.envelope.limits import Limits
from broker.errors import ConfigError, IntegrityError

ENVELOPES_DIR: Final = "envelopes"
DIGEST_SIZE: Final = 32
DIR_MODE: Final = 0o700
FILE_MODE: Final = 0o600  # envelopes are encrypted, but their headers are metadata: keep private
# Envelopes are refused above this size before they are stored; anything larger on disk is junk.
MAX_STORED_BYTES: Final = Limits().max_envelope_bytes
_HEX = frozenset("0123456789abcdef")


def store_beside(log_path: Path) -> Path:
    """Where the envelopes of the log at ``log_path`` live: ``envelopes/`` in the same folder."""
    return log_path.parent / ENVELOPES_DIR


class EnvelopeStore:
    """Content-addressed envelope files under ``root``.

    ``durable=False`` skips the fsyncs: only for building benchmark fixtures, never for an
    office (a crash could then leave a missing or empty file behind a logged digest).
    ``files``: inside its ``batch()`` a new file gets its name, durably, at the batch's end
    (the daemon's group commit), not at once.
    """

    def __init__(
        self,
        root: Path,
        *,
        durable: bool = True,
        files: FileBatch | None = None,
        rng: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.root = root
        self._root = str(root)
        self._durable = durable
        self._files = files
        self._rng = rng

    def path_for(self, digest: bytes) -> Path:
        if len(digest) != DIGEST_SIZE:
            raise IntegrityError(f"an envelope digest is {DIGEST_SIZE} bytes, not {len(digest)}")
        name = digest.hex()
        return self.root / name[:2] / name[2:]

    def put(self, envelope: bytes) -> bytes:
        """Store ``envelope`` (once: storing it again is a no-op); return its SHA-256."""
        digest = hashlib.sha256(envelope).digest()
        path = self.path_for(digest)
        files = self._files
        if path.exists() or (files is not None and files.pending(path) is not None):
            return digest
        self._make_dir(path.parent)
        temp = path.with_name(f".{path.name[:16]}.{self._rng(6).hex()}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            later = self._durable and files is not None and files.deferring(path.parent)
            fd = os.open(temp, flags, FILE_MODE)
            try:
                view = memoryview(envelope)
                while view:
                    view = view[os.write(fd, view) :]
                if self._durable and not later:
                    os.fsync(fd)
            finally:
                os.close(fd)
            if later:
                assert files is not None  # noqa: S101 - later implies files
                files.place(temp, path, replace=True)
                return digest
            temp.replace(path)
            if self._durable:
                fsync_dir(path.parent)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise ConfigError(
                f"cannot store envelope {digest.hex()} in {self.root}: {exc}"
            ) from None
        return digest

    def get(self, digest: bytes) -> bytes | None:
        """The stored bytes named ``digest`` (not checked: the caller hashes them), or None."""
        if len(digest) != DIGEST_SIZE:
            raise IntegrityError(f"an envelope digest is {DIGEST_SIZE} bytes, not {len(digest)}")
        name = digest.hex()
        # Plain strings and os calls: a full verification reads every envelope.
        data = self._read(os.path.join(self._root, name[:2], name[2:]))  # noqa: PTH118
        if data is None and self._files is not None:
            waiting = self._files.pending(self.path_for(digest))  # written in this batch
            if waiting is not None:
                data = self._read(str(waiting))
        return data

    def _read(self, path: str) -> bytes | None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise IntegrityError(f"cannot read stored envelope {path}: {exc.strerror}") from None
        try:
            size = os.fstat(fd).st_size
            if size > MAX_STORED_BYTES:
                raise IntegrityError(f"stored envelope {path} is larger than any envelope may be")
            chunks, got = [], 0
            while chunk := os.read(fd, size + 1 - got):  # one read, plus one that finds the end
                chunks.append(chunk)
                got += len(chunk)
                if got > size:
                    raise IntegrityError(f"stored envelope {path} grew while it was read")
        except OSError as exc:
            raise IntegrityError(f"cannot read stored envelope {path}: {exc.strerror}") from None
        finally:
            os.close(fd)
        return b"".join(chunks)

    def __contains__(self, digest: object) -> bool:
        if not isinstance(digest, bytes):
            return False
        path = self.path_for(digest)
        return path.is_file() or (self._files is not None and self._files.pending(path) is not None)

    def delete(self, digest: bytes) -> bool:
        """Remove an envelope (retention); True if there was one."""
        path = self.path_for(digest)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise ConfigError(f"cannot delete stored envelope {path}: {exc.strerror}") from None
        return True

    def subfolders(self) -> list[Path]:
        """The two-hex-digit folders the envelopes are kept in."""
        if not self.root.is_dir():
            return []
        return [
            f
            for f in self.root.iterdir()
            if len(f.name) == 2 and set(f.name) <= _HEX and f.is_dir()
        ]

    def digests(self) -> Iterator[bytes]:
        """The digests of every stored file named like an envelope, in no particular order."""
        for folder in self.subfolders():
            for file in folder.iterdir():
                name = folder.name + file.name
                if len(name) == 2 * DIGEST_SIZE and set(name) <= _HEX:
                    yield bytes.fromhex(name)

    def _make_dir(self, folder: Path) -> None:
        if folder.is_dir():
            return
        try:
            folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            if self._durable:
                fsync_dir(folder.parent)
        except OSError as exc:
            raise ConfigError(f"cannot create envelope folder {folder}: {exc.strerror}") from None
