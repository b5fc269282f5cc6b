"""The interim hand-over to the office's own system: one JSON file per received message.

``<data_dir>/spool/in/<message-id>.json`` holds the canonical JSON (docs/messages.md) of a
received enquiry or response. This is plaintext on the office's own disk by design: it *is*
the hand-over to the office's case system, until partner-format adapters take over. The
folders are 0700 and the files 0600.

A file is written once: a temporary file in the same folder, fsync, then ``link`` to its final
name, which fails if the name exists (nothing is ever overwritten), then fsync of the folder.
A reader never sees a partial file. An existing file means the message was handed over
already. The office's system takes files away from ``in/`` and must tolerate seeing a message
id twice in one case only: it removed the file in the instant between our link and our
recording of the hand-over, and the daemon crashed right then (docs/daemon.md).

Also here: reading the message files a person gives ``liaison submit`` and ``respond``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Final

from broker.errors import ConfigError, InputError

SPOOL_DIR: Final = "spool"
INBOUND: Final = "in"
DIR_MODE: Final = 0o700
FILE_MODE: Final = 0o600
# A message file is JSON of a message whose protobuf form fits an envelope; its JSON (base64
# attachments, escapes) is larger. 32 MiB bounds what a command reads.
MAX_MESSAGE_FILE_BYTES: Final = 32 * 1024 * 1024


class Spool:
    """The inbound hand-over folder of one office."""

    def __init__(self, data_dir: Path, *, rng: Callable[[int], bytes] = os.urandom) -> None:
        self.root = data_dir / SPOOL_DIR
        self.inbound = self.root / INBOUND
        self._rng = rng

    def path_for(self, message_id: bytes) -> Path:
        if len(message_id) != 16:
            raise InputError("a message id is 16 bytes")
        return self.inbound / f"{message_id.hex()}.json"

    def handed_over(self, message_id: bytes) -> bool:
        return self.path_for(message_id).exists()

    def hand_over(self, message_id: bytes, canonical_json: str) -> bool:
        """Write the message's file once; True if written now, False if it was there already.
        ConfigError (naming the folder) when the disk refuses."""
        path = self.path_for(message_id)
        self._folders()
        if path.exists():
            return False
        data = (canonical_json.rstrip("\n") + "\n").encode("utf-8")
        temp = self.inbound / f".{message_id.hex()}.{self._rng(6).hex()}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(temp, flags, FILE_MODE)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(temp, path)  # never replaces: an existing name means handed over
            except FileExistsError:
                return False
            finally:
                temp.unlink(missing_ok=True)
            _fsync_dir(self.inbound)
        except OSError as exc:
            temp.unlink(missing_ok=True)
            raise ConfigError(f"cannot hand over into {self.inbound}: {exc.strerror}") from None
        return True

    def _folders(self) -> None:
        for folder in (self.root, self.inbound):
            if folder.is_dir():
                continue
            try:
                folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
                folder.chmod(DIR_MODE)
                _fsync_dir(folder.parent)
            except OSError as exc:
                raise ConfigError(f"cannot create spool folder {folder}: {exc.strerror}") from None


def read_message_file(path: Path, *, what: str = "message") -> str:
    """The UTF-8 text of a message file a person gave a command (InputError otherwise)."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_MESSAGE_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}") from None
    if len(raw) > MAX_MESSAGE_FILE_BYTES:
        raise InputError(f"{path} is larger than {MAX_MESSAGE_FILE_BYTES} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text") from None


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
