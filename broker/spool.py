"""Reading the message files a person gives ``liaison submit`` and ``respond``.

(The hand-over to the office's own system is in broker/daemon/handover.py and
adapters/transports.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from broker.errors import InputError

# A message file is JSON of a message whose protobuf form fits an envelope; its JSON (base64
# attachments, escapes) is larger. 32 MiB bounds what a command reads.
MAX_MESSAGE_FILE_BYTES: Final = 32 * 1024 * 1024


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
