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
_SUITES = frozenset(s.value for s in Suite)


class MessageKind(enum.IntEnum):
    """What an envelope carries; mirrors ``liaison.v1.MessageKind`` (0, unspecified, is invalid)."""

    ENQUIRY = 1
    RESPONSE = 2
    RECEIPT = 3
    CHECKPOINT = 4
    ALERT = 5


_KINDS = frozenset(k.value for k in MessageKind)


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
    if not (outer.header and outer.ciphertext and outer.signature):
        raise _malformed("envelope lacks its header, ciphertext or signature")
    inner = pb.EnvelopeHeader()
    _parse_canonical(inner, outer.header, "header")
    if inner.version != FORMAT_VERSION:
        raise PeerError(RejectReason.UNSUPPORTED_VERSION, f"format version {inner.version}")
    if inner.suite not in _SUITES:
        raise PeerError(RejectReason.UNSUPPORTED_SUITE, f"suite {inner.suite[:64]!r}")
    _require_canonical(inner, outer.header, "header")
    header = _checked_header(inner, outer.header, limits)
    if len(outer.signature) != SIGNATURE_LEN:
        raise _malformed("signature is not 64 bytes")
    if len(outer.ciphertext) < TAG_LEN:
        raise _malformed("ciphertext is shorter than its tag")
    return Decoded(header, outer.ciphertext, outer.signature)


def _check_office_id(office_id: str, what: str) -> None:
    if not office_id or len(office_id.encode()) > MAX_OFFICE_ID_BYTES:
        raise _malformed(f"{what} office id is empty or too long")


def _checked_header(inner: pb.EnvelopeHeader, raw: bytes, limits: Limits) -> Header:
    suite = Suite(inner.suite)
    if len(inner.message_id) != MESSAGE_ID_LEN:
        raise _malformed("message id is not 16 bytes")
    if inner.kind not in _KINDS:
        raise _malformed(f"message kind {inner.kind} is not known")
    if not 0 <= inner.created_at_ms < inner.expires_at_ms <= MAX_TIME_MS:
        raise _malformed("times are out of range or expiry is not after creation")
    if (inner.expires_at_ms - inner.created_at_ms) * _MS > limits.max_lifetime:
        raise _malformed("lifetime exceeds the maximum")
    _check_office_id(inner.sender, "sender")
    if len(inner.sender_key_id) != KEY_ID_LEN:
        raise _malformed("sender key id is not 16 bytes")
    if not inner.recipients:
        raise _malformed("no recipients")
    if len(inner.recipients) > limits.max_recipients:
        raise PeerError(
            RejectReason.OVERSIZE, f"{len(inner.recipients)} recipients > {limits.max_recipients}"
        )
    recipients = tuple(_checked_recipient(r, suite) for r in inner.recipients)
    if len({r.office_id for r in recipients}) != len(recipients):
        raise _malformed("an office is listed twice among the recipients")
    if len(inner.nonce) != NONCE_LEN:
        raise _malformed("nonce is not 24 bytes")
    if len(inner.commitment) != COMMITMENT_LEN:
        raise _malformed("commitment is not 32 bytes")
    return Header(
        version=inner.version,
        suite=suite,
        message_id=inner.message_id,
        kind=MessageKind(inner.kind),
        created_at=from_ms(inner.created_at_ms),
        expires_at=from_ms(inner.expires_at_ms),
        sender=inner.sender,
        sender_key_id=inner.sender_key_id,
        directory_version=inner.directory_version,
        recipients=recipients,
        nonce=inner.nonce,
        commitment=inner.commitment,
        raw=raw,
    )


def _checked_recipient(entry: pb.EnvelopeRecipient, suite: Suite) -> RecipientEntry:
    _check_office_id(entry.office_id, "recipient")
    if len(entry.key_id) != KEY_ID_LEN:
        raise _malformed("recipient key id is not 16 bytes")
    if len(entry.enc) != ENC_LEN[suite]:
        raise _malformed(f"encapsulated key is not {ENC_LEN[suite]} bytes")
    if len(entry.wrapped_cek) != WRAPPED_CEK_LEN:
        raise _malformed("wrapped content key is not 48 bytes")
    return RecipientEntry(entry.office_id, entry.key_id, entry.enc, entry.wrapped_cek)


def encode_envelope(header: bytes, ciphertext: bytes, signature: bytes) -> bytes:
    """The outer message around already-encoded parts."""
    outer = pb.Envelope(header=header, ciphertext=ciphertext, signature=signature)
    return outer.SerializeToString(deterministic=True)
