"""Sealing: encrypt a payload once for several offices, and sign the result.

Steps (docs/envelope.md, "Sealing"): draw message id, CEK and nonce from ``rng``; wrap the CEK
for each recipient with HPKE; encode the header once; encrypt the payload under the CEK with
the header as associated data; sign PAE(label, header, ciphertext); wrap the three in the
outer message.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from broker.envelope import signing
from broker.envelope.header import MAX_TIME_MS, MessageKind, encode_envelope, to_ms
from broker.envelope.key_ids import signing_key_id
from broker.envelope.labels import (
    CEK_LEN,
    FORMAT_VERSION,
    MAX_OFFICE_ID_BYTES,
    MESSAGE_ID_LEN,
    NONCE_LEN,
)
from broker.envelope.limits import Limits
from broker.envelope.pae import signed_input, wrap_info
from broker.envelope.payload import commitment, encrypt_payload
from broker.envelope.suite import Rng, Suite, encryption_key_id, random_bytes, wrap_cek
from broker.errors import InputError, KeyFileError
from broker.keys.model import OfficeKeys, OfficePublicKeys
from broker.pb import envelope_pb2 as pb

_DEFAULT_LIMITS = Limits()
_NO_TIME = timedelta(0)
_MS = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class Recipient:
    """One addressee as the sender's directory lists it; ``key_id`` is derived from the key."""

    office_id: str
    suite: Suite
    public_key: OfficePublicKeys
    key_id: bytes = field(init=False)  # id of the key the CEK will be wrapped to

    def __post_init__(self) -> None:
        if self.public_key.office_id != self.office_id:
            raise InputError(
                f"recipient {self.office_id} was given the keys of {self.public_key.office_id}"
            )
        found = encryption_key_id(self.suite, self.public_key)
        if found is None:
            raise InputError(f"office {self.office_id} has no ML-KEM-768 + X25519 key")
        object.__setattr__(self, "key_id", found)


def _check_office_id(office_id: str, what: str) -> None:
    if not office_id or len(office_id.encode()) > MAX_OFFICE_ID_BYTES:
        raise InputError(f"{what} office id must be 1 to {MAX_OFFICE_ID_BYTES} bytes")


def _check_request(sender: OfficeKeys, recipients: Sequence[Recipient], limits: Limits) -> Suite:
    """Everything the caller may have got wrong, before any work; returns the suite."""
    if not recipients:
        raise InputError("an envelope needs at least one recipient")
    if len(recipients) > limits.max_recipients:
        raise InputError(f"{len(recipients)} recipients > {limits.max_recipients}")
    if len({r.office_id for r in recipients}) != len(recipients):
        raise InputError("an office is listed twice among the recipients")
    suites = {r.suite for r in recipients}
    if len(suites) != 1:
        # One suite per envelope: its confidentiality would only be that of the weakest wrap.
        raise InputError("all recipients of one envelope must use the same suite")
    _check_office_id(sender.office_id, "sender")
    for recipient in recipients:
        _check_office_id(recipient.office_id, "recipient")
        if recipient.office_id == sender.office_id and recipient.public_key != sender.public():
            raise KeyFileError(
                f"the directory's keys for {sender.office_id} do not match its private keys"
            )
    return suites.pop()


def _times(now: datetime, lifetime: timedelta, limits: Limits) -> tuple[int, int]:
    """(created_at_ms, expires_at_ms), checked."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise InputError("now must be an aware datetime")
    if not _NO_TIME < lifetime <= limits.max_lifetime:
        raise InputError(f"lifetime must be above zero and at most {limits.max_lifetime}")
    created_ms = to_ms(now)
    expires_ms = created_ms + lifetime // _MS
    if not 0 <= created_ms < expires_ms <= MAX_TIME_MS:
        raise InputError("now and lifetime must give times from 1970 to 9999, at least 1 ms apart")
    return created_ms, expires_ms


def seal(
    payload: bytes,
    *,
    kind: MessageKind,
    sender: OfficeKeys,
    recipients: Sequence[Recipient],
    directory_version: int,
    now: datetime,
    lifetime: timedelta = timedelta(days=7),
    rng: Rng = os.urandom,
    limits: Limits = _DEFAULT_LIMITS,
) -> bytes:
    """Encrypt ``payload`` for ``recipients``, sign as ``sender``; the envelope's bytes."""
    try:
        kind = MessageKind(kind)
    except ValueError:
        raise InputError(f"message kind {kind!r} is not a MessageKind") from None
    suite = _check_request(sender, recipients, limits)
    created_ms, expires_ms = _times(now, lifetime, limits)
    if len(payload) > limits.max_envelope_bytes:
        raise InputError(f"payload of {len(payload)} bytes exceeds the envelope limit")
    if not 0 <= directory_version < 2**64:
        raise InputError("directory version must fit in 64 unsigned bits")
    message_id = random_bytes(rng, MESSAGE_ID_LEN)
    cek = random_bytes(rng, CEK_LEN)
    nonce = random_bytes(rng, NONCE_LEN)
    header = pb.EnvelopeHeader(
        version=FORMAT_VERSION,
        suite=suite.value,
        message_id=message_id,
        kind=pb.MessageKind.ValueType(kind.value),
        created_at_ms=created_ms,
        expires_at_ms=expires_ms,
        sender=sender.office_id,
        sender_key_id=signing_key_id(sender.public()),
        directory_version=directory_version,
        nonce=nonce,
        commitment=commitment(cek, message_id),
    )
    for recipient in recipients:
        info = wrap_info(suite, message_id, sender.office_id, recipient.office_id)
        enc, wrapped = wrap_cek(suite, cek, recipient.public_key, info, rng)
        header.recipients.add(
            office_id=recipient.office_id, key_id=recipient.key_id, enc=enc, wrapped_cek=wrapped
        )
    header_bytes = header.SerializeToString(deterministic=True)  # encoded once, never again
    ciphertext = encrypt_payload(cek, nonce, payload, header_bytes)
    signature = signing.sign(sender, signed_input(header_bytes, ciphertext))
    envelope = encode_envelope(header_bytes, ciphertext, signature)
    if len(envelope) > limits.max_envelope_bytes:
        raise InputError(f"the envelope of {len(envelope)} bytes exceeds the limit")
    return envelope
