"""Folders as a transport: the hand-over folder, and the pickup folder the daemon watches.

Writing is atomic and never overwrites: a temporary name in the same folder, fsync, ``link``
to the final name (which fails if the name exists), fsync of the folder. A reader never sees a
partial file; an existing file means the message was handed over already. In the daemon's
group commit (:class:`broker.durable.FileBatch`) the fsyncs are shared by the batch and the
link comes at its end, after the data is on disk. Folders are 0700 and
files 0600: they hold case content on the office's own disk, by design.

The pickup folder belongs to the office's system: it drops files in, the daemon takes them.
Files whose names start with "." or end in ".tmp"/".part" are still being written and are left
alone; a file is taken only when its size has stopped changing between two looks (a partner
that writes in place rather than renaming is not caught half-way). Each file taken is moved to
``done/`` (with a ``.result.json`` beside it naming what it became) or ``failed/`` (with a
``.reason.txt`` saying why): nothing is deleted, and nothing is processed twice.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from adapters.transports import HandOver
from broker.durable import FileBatch, fsync_dir
from broker.errors import ConfigError, InputError

DIR_MODE: Final = 0o700
FILE_MODE: Final = 0o600
DONE: Final = "done"
FAILED: Final = "failed"
UNFINISHED_SUFFIXES: Final = (".tmp", ".part", ".partial", ".crdownload")
# File names are at most 255 bytes; a taken file gets "<name>.result.json" or ".reason.txt"
# and possibly a ".N" to keep it apart from an earlier one of the same name.
MAX_NAME_BYTES: Final = 200


def ensure_folder(folder: Path) -> None:
    """Create ``folder`` (0700) if needed; ConfigError naming it when the disk refuses."""
    if folder.is_dir():
        return
    missing = [folder, *(p for p in folder.parents if not p.exists())]
    try:
        for each in reversed(missing):  # every folder we create is private, not just the last
            each.mkdir(mode=DIR_MODE, exist_ok=True)
            each.chmod(DIR_MODE)
            fsync_dir(each.parent)
    except OSError as exc:
        raise ConfigError(f"cannot create folder {folder}: {exc.strerror}") from None


def write_once(
    folder: Path,
    name: str,
    data: bytes,
    *,
    rng: Callable[[int], bytes] = os.urandom,
    files: FileBatch | None = None,
) -> bool:
    """Write ``folder/name`` atomically; True if written now, False if it existed already.
    Inside ``files.batch()`` the name appears, durably, at the batch's end (True: it will,
    unless the name appears meanwhile, which then wins). ConfigError (naming the folder)
    when the disk refuses."""
    if not name or "/" in name or name.startswith(".") or name in (".", ".."):
        raise InputError("not a plain file name")
    ensure_folder(folder)
    path = folder / name
    if path.exists() or (files is not None and files.pending(path) is not None):
        return False
    temp = folder / f".{name}.{rng(6).hex()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        later = files is not None and files.deferring(folder)
        fd = os.open(temp, flags, FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if not later:
                os.fsync(fd)
        finally:
            os.close(fd)
        if later:
            assert files is not None  # noqa: S101 - later implies files
            files.place(temp, path, replace=False)  # linked: an existing name still wins
            return True
        try:
            os.link(temp, path)  # never replaces: an existing name means handed over
        except FileExistsError:
            return False
        finally:
            temp.unlink(missing_ok=True)
        fsync_dir(folder)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write into {folder}: {exc.strerror}") from None
    return True


class SpoolTransport:
    """Hands over by writing ``<message-id><suffix>`` into one folder."""

    name = "spool"

    def __init__(
        self,
        folder: Path,
        *,
        rng: Callable[[int], bytes] = os.urandom,
        files: FileBatch | None = None,
    ) -> None:
        self.folder = folder
        self._rng = rng
        self._files = files

    def path_for(self, handover: HandOver) -> Path:
        return self.folder / handover.file_name

    def deliver(self, handover: HandOver) -> str:
        write_once(
            self.folder,
            handover.file_name,
            handover.encoded.data,
            rng=self._rng,
            files=self._files,
        )
        return handover.file_name


@dataclass(frozen=True, slots=True)
class Picked:
    """A file taken from the pickup folder (its bytes are read by the caller)."""

    path: Path
    size: int

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def suffix(self) -> str:
        return self.path.suffix.lower()


class PickupFolder:
    """The folder the office's system drops files into (see the module docstring)."""

    def __init__(self, folder: Path, *, max_bytes: int) -> None:
        self.folder = folder
        self.done = folder / DONE
        self.failed = folder / FAILED
        self._max_bytes = max_bytes
        self._sizes: dict[str, int] = {}  # name -> size at the last look
        self.too_long: set[str] = set()  # names at the last look too long to take

    def prepare(self) -> None:
        for folder in (self.folder, self.done, self.failed):
            ensure_folder(folder)

    def ready(self) -> list[Picked]:
        """Files whose size has not changed since the last look, by name."""
        seen: dict[str, int] = {}
        settled: list[Picked] = []
        self.too_long = set()
        try:
            entries = sorted(os.scandir(self.folder), key=lambda e: e.name)
        except OSError as exc:
            raise ConfigError(f"cannot read {self.folder}: {exc.strerror}") from None
        for entry in entries:
            name = entry.name
            if name.startswith(".") or name.lower().endswith(UNFINISHED_SUFFIXES):
                continue
            if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
                self.too_long.add(name)  # done/<name>.result.json would not fit: left alone
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue  # done/, failed/, and never a symbolic link
                size = entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue  # gone meanwhile
            seen[name] = size
            if self._sizes.get(name) == size:
                settled.append(Picked(Path(entry.path), size))
        self._sizes = seen  # a file taken is forgotten when it is moved (_move)
        return settled

    def read(self, picked: Picked) -> bytes:
        """The file's bytes; InputError if it is larger than any partner file may be."""
        if picked.size > self._max_bytes:
            raise InputError(f"larger than {self._max_bytes} bytes")
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(picked.path, flags)
            with os.fdopen(fd, "rb") as handle:
                data = handle.read(self._max_bytes + 1)
        except OSError as exc:
            raise ConfigError(f"cannot read {picked.path}: {exc.strerror}") from None
        if len(data) > self._max_bytes:
            raise InputError(f"larger than {self._max_bytes} bytes")
        return data

    def succeeded(self, picked: Picked, result: dict[str, object]) -> Path:
        """Move the file to done/ with ``<name>.result.json`` beside it."""
        target = self._move(picked, self.done)
        note = json.dumps(result, sort_keys=True, indent=1) + "\n"
        write_once(self.done, f"{target.name}.result.json", note.encode("utf-8"))
        return target

    def refused(self, picked: Picked, reason: str) -> Path:
        """Move the file to failed/ with ``<name>.reason.txt`` beside it."""
        target = self._move(picked, self.failed)
        write_once(self.failed, f"{target.name}.reason.txt", (reason.rstrip() + "\n").encode())
        return target

    def _move(self, picked: Picked, folder: Path) -> Path:
        ensure_folder(folder)
        target = folder / picked.name
        counter = 1
        while target.exists():  # the office's system reused a name: keep both
            target = folder / f"{picked.path.stem}.{counter}{picked.path.suffix}"
            counter += 1
        try:
            picked.path.rename(target)
            fsync_dir(folder)
            fsync_dir(self.folder)
        except OSError as exc:
            raise ConfigError(f"cannot move {picked.path} to {folder}: {exc.strerror}") from None
        self._sizes.pop(picked.name, None)
        return target
