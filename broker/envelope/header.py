"""The envelope's wire form: decoding with every well-formedness check, and encoding.

Decoding is strict. Both the outer ``Envelope`` and the ``EnvelopeHeader`` must be in canonical
protobuf encoding (docs/envelope.md, "Canonical encoding"): we parse, drop unknown fields,
re-encode and require the very bytes we were given. The re-encoded bytes are only compared,
never used; what is signed and authenticated stays the sender's exact header bytes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from google.protobuf.message import DecodeError, Message

from broker.envelope.labels import (
    COMMITMENT_LEN,
    FORMAT_VERSION,
    KEY_ID_LEN,
    MAX_OFFICE_ID_BYTES,
    MESSAGE_ID_LEN,
    NONCE_LEN,
    SIGNATURE_LEN,
    TAG_LEN,
    WRAPPED_CEK_LEN,
)
from broker.envelope.limits import Limits
from broker.envelope.suite import ENC_LEN, Suite
from broker.errors import PeerError, RejectReason
from broker.pb import envelope_pb2 as pb

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
MAX_TIME_MS = (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) - EPOCH) // _MS
_SUITE_BY_NAME = {s.value: s for s in Suite}


class MessageKind(enum.IntEnum):
    """What an envelope carries; mirrors ``liaison.v1.MessageKind`` (0, unspecified, is invalid)."""

    ENQUIRY = 1
    RESPONSE = 2
    RECEIPT = 3
    CHECKPOINT = 4
    ALERT = 5


_KIND_BY_NUMBER = {k.value: k for k in MessageKind}


@dataclass(frozen=True, slots=True)
class RecipientEntry:
    """One addressee as the header lists it: the CEK wrapped to one of its keys."""

    office_id: str
    key_id: bytes
    enc: bytes = field(repr=False)
    wrapped_cek: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class Header:
    """A decoded, well-formed header; ``raw`` is the exact signed bytes it was decoded from."""

    version: int
    suite: Suite
    message_id: bytes
    kind: MessageKind
    created_at: datetime
    expires_at: datetime
    sender: str
    sender_key_id: bytes
    directory_version: int
    recipients: tuple[RecipientEntry, ...]
    nonce: bytes
    commitment: bytes
    raw: bytes = field(repr=False)

    def recipient(self, office_id: str) -> RecipientEntry | None:
        """This office's entry, if it is an addressee."""
        return next((r for r in self.recipients if r.office_id == office_id), None)


@dataclass(frozen=True, slots=True)
class Decoded:
    """An envelope split into its parts, well-formed but not yet verified."""

    header: Header
    ciphertext: bytes = field(repr=False)
    signature: bytes = field(repr=False)


def to_ms(moment: datetime) -> int:
    """Unix milliseconds of an aware datetime (floored)."""
    return (moment - EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    return EPOCH + ms * _MS


def _malformed(detail: str) -> PeerError:
    return PeerError(RejectReason.MALFORMED, detail)


def _parse_canonical(message: Message, data: bytes, what: str) -> None:
    try:
        message.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        # DecodeError is protobuf's; the others cover runtime limits (nesting) in its C core.
        raise _malformed(f"{what} is not a valid protobuf message") from exc


def _require_canonical(message: Message, data: bytes, what: str) -> None:
    message.DiscardUnknownFields()
    if message.SerializeToString(deterministic=True) != data:
        raise _malformed(f"{what} is not in canonical encoding")


def decode(data: bytes, limits: Limits) -> Decoded:
    """Check size, then decode and check well-formedness, in the order docs/envelope.md gives."""
    if len(data) > limits.max_envelope_bytes:
        raise PeerError(RejectReason.OVERSIZE, f"{len(data)} bytes > {limits.max_envelope_bytes}")
    outer = pb.Envelope()
    _parse_canonical(outer, data, "envelope")
    _require_canonical(outer, data, "envelope")
    # Each read of a bytes field copies it out of the parsed message: read each one once.
    header_bytes, ciphertext, signature = outer.header, outer.ciphertext, outer.signature
    if not (header_bytes and ciphertext and signature):
        raise _malformed("envelope lacks its header, ciphertext or signature")
    inner = pb.EnvelopeHeader()
    _parse_canonical(inner, header_bytes, "header")
    if inner.version != FORMAT_VERSION:
        raise PeerError(RejectReason.UNSUPPORTED_VERSION, f"format version {inner.version}")
    if inner.suite not in _SUITE_BY_NAME:
        raise PeerError(RejectReason.UNSUPPORTED_SUITE, f"suite {inner.suite[:64]!r}")
    _require_canonical(inner, header_bytes, "header")
    header = _checked_header(inner, header_bytes, limits)
    if len(signature) != SIGNATURE_LEN:
        raise _malformed("signature is not 64 bytes")
    if len(ciphertext) < TAG_LEN:
        raise _malformed("ciphertext is shorter than its tag")
    return Decoded(header, ciphertext, signature)


def _check_office_id(office_id: str, what: str) -> None:
    if not office_id or len(office_id.encode()) > MAX_OFFICE_ID_BYTES:
        raise _malformed(f"{what} office id is empty or too long")


def _checked_header(inner: pb.EnvelopeHeader, raw: bytes, limits: Limits) -> Header:
    # Every field is read once into a local (reads of a parsed message are not free); the
    # checks run in the order of docs/envelope.md, step 7 on.
    suite = _SUITE_BY_NAME[inner.suite]
    message_id = inner.message_id
    if len(message_id) != MESSAGE_ID_LEN:
        raise _malformed("message id is not 16 bytes")
    kind = _KIND_BY_NUMBER.get(inner.kind)
    if kind is None:
        raise _malformed(f"message kind {inner.kind} is not known")
    created_ms, expires_ms = inner.created_at_ms, inner.expires_at_ms
    if not 0 <= created_ms < expires_ms <= MAX_TIME_MS:
        raise _malformed("times are out of range or expiry is not after creation")
    if (expires_ms - created_ms) * _MS > limits.max_lifetime:
        raise _malformed("lifetime exceeds the maximum")
    sender = inner.sender
    _check_office_id(sender, "sender")
    sender_key_id = inner.sender_key_id
    if len(sender_key_id) != KEY_ID_LEN:
        raise _malformed("sender key id is not 16 bytes")
    entries = inner.recipients
    if not entries:
        raise _malformed("no recipients")
    if len(entries) > limits.max_recipients:
        raise PeerError(
            RejectReason.OVERSIZE, f"{len(entries)} recipients > {limits.max_recipients}"
        )
    enc_len = ENC_LEN[suite]
    recipients = tuple(_checked_recipient(entry, enc_len) for entry in entries)
    if len({r.office_id for r in recipients}) != len(recipients):
        raise _malformed("an office is listed twice among the recipients")
    nonce = inner.nonce
    if len(nonce) != NONCE_LEN:
        raise _malformed("nonce is not 24 bytes")
    commitment = inner.commitment
    if len(commitment) != COMMITMENT_LEN:
        raise _malformed("commitment is not 32 bytes")
    return Header(
        version=inner.version,
        suite=suite,
        message_id=message_id,
        kind=kind,
        created_at=from_ms(created_ms),
        expires_at=from_ms(expires_ms),
        sender=sender,
        sender_key_id=sender_key_id,
        directory_version=inner.directory_version,
        recipients=recipients,
        nonce=nonce,
        commitment=commitment,
        raw=raw,
    )


def _checked_recipient(entry: pb.EnvelopeRecipient, enc_len: int) -> RecipientEntry:
    office_id = entry.office_id
    _check_office_id(office_id, "recipient")
    key_id = entry.key_id
    if len(key_id) != KEY_ID_LEN:
        raise _malformed("recipient key id is not 16 bytes")
    enc = entry.enc
    if len(enc) != enc_len:
        raise _malformed(f"encapsulated key is not {enc_len} bytes")
    wrapped_cek = entry.wrapped_cek
    if len(wrapped_cek) != WRAPPED_CEK_LEN:
        raise _malformed("wrapped content key is not 48 bytes")
    return RecipientEntry(office_id, key_id, enc, wrapped_cek)


def encode_envelope(header: bytes, ciphertext: bytes, signature: bytes) -> bytes:
    """The outer message around already-encoded parts."""
    outer = pb.Envelope(header=header, ciphertext=ciphertext, signature=signature)
    return outer.SerializeToString(deterministic=True)
