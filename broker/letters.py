"""Canonical messages sealed and opened under the directory and the agreements (pure).

``broker.envelope`` knows bytes and keys; this module adds what the directory and the
agreements say. Sealing refuses, before anything leaves, what the agreements do not allow
(PolicyRefused, naming the rule). Opening enforces the same rules again on the decrypted
message, because a partner running other software must not be able to slip past them, and
checks that the message agrees with the envelope that carried it (who sent it, to whom).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from broker.directory import Directory
from broker.envelope import Limits, Opened, open_envelope, seal
from broker.errors import InputError, PeerError, PolicyRefused, RejectReason
from broker.keys.model import OfficeKeys
from broker.messages import Message, decode_payload, kind_of
from broker.model import CaseEnquiry, CaseResponse
from broker.model.checkpoint_exchange import CheckpointExchange
from broker.policy import EnquiryRequest, PolicyRule, allowed_recipients, decide

_DEFAULT_LIMITS = Limits()
DEFAULT_LIFETIME = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class OpenedMessage:
    """An envelope opened and its message decoded and checked against the agreements."""

    opened: Opened = field(repr=False)
    message: Message = field(repr=False)


def addressees(message: Message, to: Sequence[str]) -> tuple[str, ...]:
    """Whom ``message`` goes to: an enquiry names its recipients; other messages need ``to``."""
    if isinstance(message, CaseEnquiry):
        if to and sorted(set(to)) != sorted(set(message.recipient_offices)):
            raise InputError(
                f"--to names {', '.join(to)} but the enquiry is addressed to "
                f"{', '.join(message.recipient_offices)}"
            )
        return message.recipient_offices
    if not to:
        raise InputError("name the recipient office of this message")
    return tuple(dict.fromkeys(to))


def author(message: Message) -> str:
    """The office a message says it comes from."""
    if isinstance(message, CaseEnquiry):
        return message.requesting_office
    if isinstance(message, CaseResponse):
        return message.responding_office
    if isinstance(message, CheckpointExchange):
        return message.office
    return message.receiving_office


def seal_message(
    message: Message,
    *,
    sender: OfficeKeys,
    directory: Directory,
    now: datetime,
    to: Sequence[str] = (),
    lifetime: timedelta = DEFAULT_LIFETIME,
    rng: Callable[[int], bytes] = os.urandom,
    limits: Limits = _DEFAULT_LIMITS,
) -> bytes:
    """Check the agreements, then seal ``message`` for its addressees as the directory lists
    them. PolicyRefused names the rule when the agreements do not allow it."""
    if author(message) != sender.office_id:
        raise InputError(
            f"the message is from {author(message)}, but the keys are {sender.office_id}'s"
        )
    recipients = addressees(message, to)
    if isinstance(message, CaseEnquiry):
        decide(directory, EnquiryRequest.of(message, now)).raise_if_refused()
    else:
        partners = allowed_recipients(directory, sender.office_id, now)
        outside = [office for office in recipients if office not in partners]
        if outside:
            raise PolicyRefused(
                PolicyRule.RECIPIENT_NOT_PARTY.value,
                f"no agreement in force between {sender.office_id} and {', '.join(outside)}",
            )
    return seal(
        message.to_bytes(),
        kind=kind_of(message),
        sender=sender,
        recipients=[directory.recipient(office, now) for office in recipients],
        directory_version=directory.version,
        now=now,
        lifetime=lifetime,
        rng=rng,
        limits=limits,
    )


def open_message(
    data: bytes,
    *,
    keys: OfficeKeys,
    directory: Directory,
    now: datetime,
    seen: Container[bytes] = frozenset(),
    limits: Limits = _DEFAULT_LIMITS,
) -> OpenedMessage:
    """Open an envelope addressed to ``keys``' office and check its message; PeerError says why
    not (reason ``policy`` with the rule in the detail when the agreements refuse it)."""
    opened = open_envelope(data, keys, directory, now=now, seen=seen, limits=limits)
    header = opened.header
    entry = header.recipient(keys.office_id)  # never None: open_envelope checked it
    if entry is not None and not directory.decryption_key_acceptable(
        keys.office_id, entry.key_id, now
    ):
        raise PeerError(
            RejectReason.NOT_A_RECIPIENT,
            "wrapped to an encryption key of ours the directory no longer accepts",
        )
    message = decode_payload(header.kind, opened.payload)
    if author(message) != header.sender:
        raise PeerError(
            RejectReason.MALFORMED,
            f"the message says it is from {author(message)}, the envelope from {header.sender}",
        )
    envelope_recipients = {r.office_id for r in header.recipients}
    if isinstance(message, CaseEnquiry):
        if set(message.recipient_offices) != envelope_recipients:
            raise PeerError(
                RejectReason.MALFORMED, "the enquiry's recipients differ from the envelope's"
            )
        decision = decide(directory, EnquiryRequest.of(message, header.created_at))
        if not decision.allowed:
            rule = decision.rule.value if decision.rule else "policy"
            raise PeerError(RejectReason.POLICY, f"{rule}: {decision.diagnosis}")
    elif keys.office_id not in allowed_recipients(directory, header.sender, header.created_at):
        raise PeerError(
            RejectReason.POLICY,
            f"{PolicyRule.RECIPIENT_NOT_PARTY.value}: no agreement in force between "
            f"{header.sender} and {keys.office_id}",
        )
    return OpenedMessage(opened=opened, message=message)


__all__ = [
    "DEFAULT_LIFETIME",
    "OpenedMessage",
    "addressees",
    "author",
    "open_message",
    "seal_message",
]
