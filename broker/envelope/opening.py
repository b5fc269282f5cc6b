"""Opening and verifying: every check of docs/envelope.md, "Opening", in its order.

Order: size, parse, version and suite, well-formedness (``header.decode``); the signature, with
the sender's key as the directory lists it at ``created_at``; then the time checks, replay,
our recipient entry, unwrapping the CEK, the commitment and the payload. The signature is
checked before any private-key operation, so unsigned junk never reaches our keys.

Every rejection is a ``PeerError``: generic ``str()``, specific ``.reason``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Container
from dataclasses import dataclass, field
from datetime import datetime

from broker.envelope import signing
from broker.envelope.directory_view import DirectoryView
from broker.envelope.header import Decoded, Header, decode
from broker.envelope.key_ids import cached_key_id
from broker.envelope.limits import Limits
from broker.envelope.pae import signed_input, wrap_info
from broker.envelope.payload import check_commitment, decrypt_payload
from broker.envelope.suite import own_key_id, unwrap_cek
from broker.errors import InputError, PeerError, RejectReason
from broker.keys.model import KeyAlg, OfficeKeys

_DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Opened:
    """A verified, decrypted envelope. ``digest`` is SHA-256 of the whole envelope's bytes."""

    header: Header
    payload: bytes = field(repr=False)
    cek: bytes = field(repr=False)
    digest: bytes


@dataclass(frozen=True, slots=True)
class Verified:
    """An envelope whose signature and header checked out, not decrypted."""

    header: Header
    digest: bytes


def peek_header(data: bytes, *, limits: Limits = _DEFAULT_LIMITS) -> Header:
    """The header, for routing and logging: well-formedness only, nothing verified."""
    return decode(data, limits).header


def _verify_signature(decoded: Decoded, directory: DirectoryView) -> None:
    header = decoded.header
    public = directory.signing_key(header.sender, header.sender_key_id, header.created_at)
    if cached_key_id(KeyAlg.ED25519, public) != header.sender_key_id:
        raise PeerError(RejectReason.UNKNOWN_SENDER, "the directory's key has another key id")
    if not signing.verify(public, decoded.signature, signed_input(header.raw, decoded.ciphertext)):
        raise PeerError(RejectReason.BAD_SIGNATURE, f"not signed by {header.sender!r}")


def verify_envelope(
    data: bytes, directory: DirectoryView, *, limits: Limits = _DEFAULT_LIMITS
) -> Verified:
    """Check well-formedness and the signature; no private key, no clock (key judged at
    ``created_at``). What a hub, a router or an auditor without keys can establish."""
    decoded = decode(data, limits)
    _verify_signature(decoded, directory)
    return Verified(decoded.header, hashlib.sha256(data).digest())


def _check_times(header: Header, now: datetime, limits: Limits) -> None:
    # Both compare a time the sender's clock stamped with ours, so both allow the skew.
    if header.created_at > now + limits.max_clock_skew:
        raise PeerError(RejectReason.FROM_THE_FUTURE, f"created at {header.created_at.isoformat()}")
    if now >= header.expires_at + limits.max_clock_skew:
        raise PeerError(RejectReason.EXPIRED, f"expired at {header.expires_at.isoformat()}")


def open_envelope(
    data: bytes,
    recipient: OfficeKeys,
    directory: DirectoryView,
    *,
    now: datetime,
    seen: Container[bytes] = frozenset(),
    limits: Limits = _DEFAULT_LIMITS,
) -> Opened:
    """Verify and decrypt an envelope addressed to ``recipient``.

    ``seen`` holds the message ids already accepted (the replay window); the caller records
    the new one after it has durably accepted the message.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise InputError("now must be an aware datetime")
    decoded = decode(data, limits)
    _verify_signature(decoded, directory)
    header = decoded.header
    _check_times(header, now, limits)
    if header.message_id in seen:
        raise PeerError(RejectReason.REPLAY, f"message {header.message_id.hex()} was seen before")
    entry = header.recipient(recipient.office_id)
    if entry is None:
        raise PeerError(RejectReason.NOT_A_RECIPIENT, f"{recipient.office_id} is not addressed")
    if own_key_id(header.suite, recipient) != entry.key_id:
        raise PeerError(
            RejectReason.NOT_A_RECIPIENT,
            f"wrapped for key {entry.key_id.hex()}, which {recipient.office_id} does not hold",
        )
    info = wrap_info(header.suite, header.message_id, header.sender, entry.office_id)
    cek = unwrap_cek(header.suite, recipient, entry.enc, entry.wrapped_cek, info)
    check_commitment(cek, header.message_id, header.commitment)
    payload = decrypt_payload(cek, header.nonce, decoded.ciphertext, header.raw)
    return Opened(header, payload, cek, hashlib.sha256(data).digest())


def open_with_cek(
    data: bytes, cek: bytes, directory: DirectoryView, *, limits: Limits = _DEFAULT_LIMITS
) -> Opened:
    """Open with a disclosed CEK: how an auditor checks a plaintext a recipient shows them.

    The signature proves who sent the header and ciphertext; the commitment proves this CEK
    is the only key they open under. No clock and no replay check: audits look back.
    """
    decoded = decode(data, limits)
    _verify_signature(decoded, directory)
    header = decoded.header
    check_commitment(cek, header.message_id, header.commitment)
    payload = decrypt_payload(cek, header.nonce, decoded.ciphertext, header.raw)
    return Opened(header, payload, cek, hashlib.sha256(data).digest())
