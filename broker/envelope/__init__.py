"""The Liaison envelope: signed, end-to-end encrypted, multi-recipient (docs/envelope.md).

Pure: bytes and frozen values in, bytes and frozen values out; time (``now``) and randomness
(``rng``) are parameters. Every rejection of a peer's envelope is a ``broker.errors.PeerError``
whose ``.reason`` says why; a caller's mistake when sealing is an ``InputError`` (or a
``KeyFileError`` when its own keys disagree with the directory).
"""

from broker.envelope.directory_view import DirectoryView, KeyWindow, StaticDirectory
from broker.envelope.header import Header, MessageKind, RecipientEntry
from broker.envelope.limits import Limits
from broker.envelope.opening import (
    Opened,
    Verified,
    open_envelope,
    open_with_cek,
    peek_header,
    verify_envelope,
)
from broker.envelope.sealing import Recipient, seal
from broker.envelope.suite import Suite

__all__ = [
    "DirectoryView",
    "Header",
    "KeyWindow",
    "Limits",
    "MessageKind",
    "Opened",
    "Recipient",
    "RecipientEntry",
    "StaticDirectory",
    "Suite",
    "Verified",
    "open_envelope",
    "open_with_cek",
    "peek_header",
    "seal",
    "verify_envelope",
]
