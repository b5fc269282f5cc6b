"""The directory's files on disk: the I/O edge of ``broker.directory``.

Reads signed directories and pinned roots, and keeps in the office's data folder what the
loading rules need between runs (docs/directory.md, "State"):

``directory-state.json``     the last accepted root, version and content digest
``directory-accepted.bin``   the last accepted signed directory, to run on when a new one is refused

Each is written atomically (a new file, fsync, rename over the old one, fsync of the folder),
the copy before the state, so a crash leaves either the old pair or a newer copy that the
state's rules still accept. Failures to read or write are ConfigError naming the file.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from broker.directory.anchors import decode_root, decode_state, encode_root, encode_state
from broker.directory.directory import Directory
from broker.directory.model import Root
from broker.directory.source import MAX_SOURCE_BYTES
from broker.directory.trust import (
    Accepted,
    DirectoryLimits,
    DirectoryRule,
    TrustState,
    accept_directory,
    refused,
)
from broker.durable import fsync_dir
from broker.errors import ConfigError, IntegrityError

STATE_FILE = "directory-state.json"
ACCEPTED_FILE = "directory-accepted.bin"
DATA_DIR_MODE = 0o700
FILE_MODE = 0o644  # directories and roots are public; they hold no secret


@dataclass(frozen=True, slots=True)
class OfficeDirectory:
    """The directory an office runs on, and why: a newly accepted one (``refusal`` None), or
    the last good one because the new file was refused (``refusal`` says by which rule)."""

    directory: Directory
    refusal: IntegrityError | None
    newly_accepted: bool


def read_directory_file(
    path: Path,
    *,
    limits: DirectoryLimits = DirectoryLimits(),  # noqa: B008 - a frozen value
) -> bytes:
    """The bytes of a (signed or unsigned) directory file; refused unread if too large."""
    data = _read(path, "directory file", limits.max_bytes)
    if len(data) > limits.max_bytes:
        raise refused(DirectoryRule.OVERSIZE, f"{path} is larger than {limits.max_bytes} bytes")
    return data


def read_source_file(path: Path) -> bytes:
    """The bytes of a TOML directory source (``compile_source`` checks the size)."""
    return _read(path, "directory source", MAX_SOURCE_BYTES)


def read_pinned_root(path: Path) -> Root:
    return decode_root(_read(path, "pinned root", 256 * 1024), name=str(path))


def read_state(data_dir: Path) -> TrustState | None:
    """The persisted state, or None before the first accepted directory."""
    path = data_dir / STATE_FILE
    if not os.path.lexists(path):
        return None
    return decode_state(_read(path, "directory state", 256 * 1024), name=str(path))


def write_pinned_root(path: Path, root: Root, *, force: bool = False) -> None:
    write_file(path, encode_root(root), force=force)


def load_office_directory(
    directory_file: Path,
    data_dir: Path,
    *,
    pinned_root: Path | None,
    now: datetime,
    limits: DirectoryLimits = DirectoryLimits(),  # noqa: B008 - a frozen value
) -> OfficeDirectory:
    """Accept ``directory_file`` against the office's trust state and persist the result; if it
    is refused, fall back to the last accepted directory (still checked, and not expired).
    Raises the refusal when there is nothing to fall back on."""
    state = read_state(data_dir)
    if state is None:
        if pinned_root is None:
            raise ConfigError(
                "no directory accepted yet and no pinned root configured (directory.pinned_root)"
            )
        state = TrustState.pinned(read_pinned_root(pinned_root))
    try:
        data = read_directory_file(directory_file, limits=limits)
        accepted = accept_directory(data, state, now=now, limits=limits)
    except IntegrityError as refusal:
        last_good = data_dir / ACCEPTED_FILE
        if not os.path.lexists(last_good):
            raise
        try:
            kept = accept_directory(read_directory_file(last_good), state, now=now, limits=limits)
        except IntegrityError as also:
            raise IntegrityError(
                f"{refusal.diagnosis}; and the last accepted directory cannot be used either:"
                f" {also.diagnosis}"
            ) from None
        return OfficeDirectory(kept.directory, refusal, newly_accepted=False)
    if accepted.state != state:
        save_accepted(data_dir, data, accepted)
    return OfficeDirectory(accepted.directory, None, newly_accepted=accepted.state != state)


def save_accepted(data_dir: Path, signed: bytes, accepted: Accepted) -> None:
    """Remember ``accepted`` (whose signed bytes are ``signed``): the copy, then the state."""
    _make_dir(data_dir)
    write_file(data_dir / ACCEPTED_FILE, signed, force=True)
    write_file(data_dir / STATE_FILE, encode_state(accepted.state), force=True)


def write_file(path: Path, data: bytes, *, force: bool) -> None:
    """Write ``path`` atomically; an existing file is replaced only with ``force``."""
    if not force and os.path.lexists(path):
        raise ConfigError(f"{path} already exists (give --force to replace it)")
    temporary = path.with_name(f".{path.name}.{os.urandom(6).hex()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(temporary, flags, FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        temporary.replace(path)
        fsync_dir(path.parent)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None


def _read(path: Path, kind: str, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of a regular file (one more than allowed shows it is too
    big without reading all of it)."""
    try:
        with path.open("rb") as stream:
            if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
                raise ConfigError(f"{kind} {path} is not a regular file")
            return stream.read(limit + 1)
    except FileNotFoundError:
        raise ConfigError(f"{kind} {path} is missing") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {kind} {path}: {exc.strerror}") from None


def _make_dir(folder: Path) -> None:
    try:
        folder.mkdir(mode=DATA_DIR_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create data folder {folder}: {exc.strerror}") from None
