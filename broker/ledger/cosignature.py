"""C2SP tlog-cosignature v1, Ed25519 (type 0x04): a timestamped cosignature on a checkpoint.

The signature line is an ordinary note signature whose bytes are
``key ID (4) || u64be(timestamp) || Ed25519 signature (64)``, and the signed message is::

    cosignature/v1\\n
    time <timestamp, ASCII decimal>\\n
    <the checkpoint's note text, final newline included>

``key ID = SHA-256(name || 0x0A || 0x04 || public key)[:4]``. A v1 cosignature states that, as of
the timestamp, this is the largest consistent tree the cosigner has seen for the origin. This
module only signs and checks; :mod:`broker.ledger.checkpoint` decides what to cosign.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar, Final

from cryptography.hazmat.primitives.asymmetric import ed25519

from broker.errors import InputError, IntegrityError
from broker.ledger.note import (
    COSIGNATURE_TYPE,
    NamedEd25519Key,
    NoteSignature,
    check_key_name,
    check_note_text,
    split_verifier_key,
    verify_ed25519,
)

COSIGNATURE_HEADER: Final = b"cosignature/v1\n"
MAX_TIMESTAMP: Final = 2**63 - 1
_SIGNATURE_SIZE: Final = 8 + 64


def cosigned_message(text: str, timestamp: int) -> bytes:
    """The bytes an Ed25519 v1 cosignature signs over a checkpoint ``text`` at ``timestamp``."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise IntegrityError(f"cosignature timestamp {timestamp} is out of range")
    return COSIGNATURE_HEADER + b"time %d\n" % timestamp + check_note_text(text)


def posix_seconds(now: datetime) -> int:
    """``now`` as whole POSIX seconds (rounded down); ``now`` must be timezone-aware."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise InputError("now must be an aware datetime")
    seconds = int(now.timestamp() // 1)
    if not 0 <= seconds <= MAX_TIMESTAMP:
        raise InputError("now must not be before 1970")
    return seconds


@dataclass(frozen=True, slots=True)
class Cosignature:
    """A verified cosignature: who (name, key ID) and when (POSIX seconds)."""

    name: str
    key_id: bytes
    timestamp: int

    @property
    def time(self) -> datetime:
        try:
            return datetime.fromtimestamp(self.timestamp, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise IntegrityError(
                f"cosignature timestamp {self.timestamp} is past year 9999"
            ) from None


def split_cosignature(signature: bytes) -> tuple[int, bytes]:
    """(timestamp, Ed25519 signature) of a cosignature's bytes (key ID already removed)."""
    if len(signature) != _SIGNATURE_SIZE:
        raise IntegrityError(f"a cosignature is {_SIGNATURE_SIZE} bytes, not {len(signature)}")
    timestamp = int.from_bytes(signature[:8], "big")
    if timestamp > MAX_TIMESTAMP:
        raise IntegrityError("cosignature timestamp exceeds 2^63 - 1")
    return timestamp, signature[8:]


@dataclass(frozen=True, slots=True)
class CosignatureVerifier(NamedEd25519Key):
    """A cosigner's Ed25519 (type 0x04) public key and name: a
    :class:`~broker.ledger.note.NoteVerifier`."""

    sig_type: ClassVar[int] = COSIGNATURE_TYPE

    def verify(self, text: bytes, signature: bytes) -> bool:
        if len(signature) != _SIGNATURE_SIZE:
            return False
        timestamp = int.from_bytes(signature[:8], "big")
        if timestamp > MAX_TIMESTAMP:
            return False
        message = COSIGNATURE_HEADER + b"time %d\n" % timestamp + text
        return verify_ed25519(self.public_key, message, signature[8:])

    def read(self, signature: NoteSignature) -> Cosignature:
        """The cosignature a line of this key carries (its signature must be verified already)."""
        if (signature.name, signature.key_id) != (self.name, self.key_id):
            raise IntegrityError(f"signature by {signature.key} is not by cosigner {self.name}")
        timestamp, _ = split_cosignature(signature.signature)
        return Cosignature(self.name, self.key_id, timestamp)


@dataclass(frozen=True, slots=True)
class Cosigner:
    """Cosigns checkpoints with an Ed25519 private key under a name (the key is never printed)."""

    name: str
    private_key: ed25519.Ed25519PrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        check_key_name(self.name)

    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self.private_key.public_key().public_bytes_raw())

    def sign_at(self, text: str, now: datetime) -> NoteSignature:
        """The cosignature line over checkpoint ``text`` at ``now`` (callers check ``text``)."""
        timestamp = posix_seconds(now)
        signature = self.private_key.sign(cosigned_message(text, timestamp))
        return NoteSignature(
            self.name, self.verifier().key_id, timestamp.to_bytes(8, "big") + signature
        )


def parse_cosigner_key(vkey: str) -> CosignatureVerifier:
    """Parse a cosigner's verifier key ``name+hex(key ID)+base64(0x04 || key)``, checking its ID."""
    name, sig_type, public_key = split_verifier_key(vkey)
    if sig_type != COSIGNATURE_TYPE:
        raise IntegrityError(
            f"verifier key for {name} has type {sig_type:#04x}, not a cosignature key (0x04)"
        )
    return CosignatureVerifier(name, public_key)
