"""Directory content and signed directories as protobuf bytes (proto/liaison/v1/directory.proto).

Encoding is deterministic protobuf of the normalised content. Decoding refuses unknown fields,
unspecified enums, stored key ids that are not the ids of their keys, and every content rule of
``checks.py``; each failure is an :class:`~broker.errors.InputError` (the trust rules in
``trust.py`` turn it into a refusal of the directory).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from google.protobuf.message import DecodeError, Message
from google.protobuf.timestamp_pb2 import Timestamp

from broker.directory.checks import content_problems
from broker.directory.model import (
    Adapter,
    AdminKey,
    Agreement,
    DirectoryContent,
    Office,
    OfficeKey,
    Revocation,
    Root,
    Routing,
    normalized,
)
from broker.directory.vocabulary import DataCategory, KeyUse, RevocationReason
from broker.envelope.suite import Suite
from broker.errors import ConfigProblem, InputError
from broker.keys.model import KEY_ID_LEN
from broker.model.codes import EnquiryType, Handling, Priority
from broker.pb import directory_pb2 as pb

FORMAT_VERSION = 1
SIGNATURE_LEN = 64
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MIN_SECONDS = -62_135_596_800  # 0001-01-01T00:00:00Z, the range of google.protobuf.Timestamp
MAX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z

M = TypeVar("M", bound=Message)
E = TypeVar("E", EnquiryType, Handling, Priority, KeyUse)


@dataclass(frozen=True, slots=True)
class Signature:
    """One administrator's signature over a directory's content bytes."""

    key_id: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class SignedParts:
    """A decoded SignedDirectory: the exact content bytes and the signatures."""

    content: bytes
    signatures: tuple[Signature, ...]


# ---------------------------------------------------------------- signed directory


def encode_signed(content: bytes, signatures: Sequence[Signature] = ()) -> bytes:
    message = pb.SignedDirectory(content=content)
    for item in signatures:
        message.signatures.add(key_id=item.key_id, signature=item.signature)
    return message.SerializeToString(deterministic=True)


def decode_signed(data: bytes, *, max_signatures: int = 32) -> SignedParts:
    """The parts of a SignedDirectory; InputError if it is not one."""
    message = _parse(pb.SignedDirectory, data, "signed directory")
    if not message.content:
        raise InputError("the signed directory has no content")
    if len(message.signatures) > max_signatures:
        raise InputError(f"the signed directory has more than {max_signatures} signatures")
    signatures = []
    for index, item in enumerate(message.signatures):
        if len(item.key_id) != KEY_ID_LEN or len(item.signature) != SIGNATURE_LEN:
            raise InputError(f"signatures[{index}] is not a 16-byte key id and 64-byte signature")
        signatures.append(Signature(item.key_id, item.signature))
    return SignedParts(message.content, tuple(signatures))


# ---------------------------------------------------------------- content: encoding


def encode_content(content: DirectoryContent) -> bytes:
    """Deterministic protobuf bytes of the normalised ``content``; InputError if ``content``
    breaks a rule (what is encoded must decode)."""
    try:
        problems = content_problems(content)
        if not problems:
            return _encode(normalized(content))
    except (TypeError, ValueError, OverflowError):  # e.g. a naive datetime, a huge number
        raise InputError("the directory content holds a value of the wrong type") from None
    raise _broken(problems)


def _broken(problems: Sequence[ConfigProblem]) -> InputError:
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return InputError(f"the directory content breaks a rule: {problems[0]}{more}")


def _encode(content: DirectoryContent) -> bytes:
    message = pb.DirectoryContent(
        format_version=FORMAT_VERSION,
        version=content.version,
        issued_at=_timestamp(content.issued_at),
        expires_at=_timestamp(content.expires_at),
        issuer=content.issuer,
        root=pb.DirectoryRoot(threshold=content.root.threshold),
        encryption_key_grace_seconds=_seconds(content.encryption_key_grace),
        max_rotation_overlap_seconds=_seconds(content.max_rotation_overlap),
    )
    for admin in content.root.keys:
        message.root.keys.add(name=admin.name, key_id=admin.key_id, public_key=admin.public_key)
    for office in content.offices:
        message.offices.append(_office_message(office))
    for agreement in content.agreements:
        entry = message.agreements.add(
            id=agreement.id,
            title=agreement.title,
            parties=agreement.parties,
            enquiry_types=[t.value for t in agreement.enquiry_types],
            handling_codes=[h.value for h in agreement.handling_codes],
            max_priority=agreement.max_priority.value,
            attachments_allowed=agreement.attachments_allowed,
            data_categories=[c.value for c in agreement.data_categories],
            valid_from=_timestamp(agreement.valid_from),
        )
        if agreement.valid_until is not None:
            entry.valid_until.CopyFrom(_timestamp(agreement.valid_until))
    return message.SerializeToString(deterministic=True)


def _office_message(office: Office) -> pb.OfficeEntry:
    entry = pb.OfficeEntry(
        id=office.id,
        country=office.country,
        time_zone=office.time_zone,
        languages=office.languages,
        suite=office.suite.value,
        adapter=pb.PartnerAdapter(name=office.adapter.name, settings=dict(office.adapter.settings)),
        routing=pb.OfficeRouting(site=office.routing.site, broker=office.routing.broker),
        urgent_contact=office.urgent_contact,
    )
    for language, name in office.names:
        entry.names.add(language=language, name=name)
    for key in office.keys:
        item = entry.keys.add(
            use=key.use.value,
            key_id=key.key_id,
            public_key=key.public_key,
            not_before=_timestamp(key.not_before),
            not_after=_timestamp(key.not_after),
        )
        if key.revocation is not None:
            item.revocation.revoked_at.CopyFrom(_timestamp(key.revocation.revoked_at))
            item.revocation.reason = key.revocation.reason.value
    return entry


def _timestamp(when: datetime) -> Timestamp:
    delta = when - EPOCH
    seconds = delta.days * 86_400 + delta.seconds
    return Timestamp(seconds=seconds, nanos=delta.microseconds * 1000)


def _seconds(period: timedelta) -> int:
    return int(period.total_seconds())


# ---------------------------------------------------------------- content: decoding


def decode_content(data: bytes) -> DirectoryContent:
    """The content encoded in ``data``, checked against every rule; InputError otherwise."""
    message = _parse(pb.DirectoryContent, data, "directory content")
    if message.format_version != FORMAT_VERSION:
        raise InputError(
            f"directory format_version {message.format_version} is not supported"
            f" (this version reads {FORMAT_VERSION})"
        )
    _need(message, "root", "root")
    root = message.root
    admins = []
    for index, admin in enumerate(root.keys):
        value = AdminKey(admin.name, admin.public_key)
        _stored_id(f"root.keys[{index}]", admin.key_id, value.key_id)
        admins.append(value)
    content = DirectoryContent(
        version=message.version,
        issued_at=_when(message, "issued_at", "issued_at"),
        expires_at=_when(message, "expires_at", "expires_at"),
        issuer=message.issuer,
        root=Root(tuple(admins), root.threshold),
        encryption_key_grace=timedelta(seconds=message.encryption_key_grace_seconds),
        max_rotation_overlap=timedelta(seconds=message.max_rotation_overlap_seconds),
        offices=tuple(_office(f"offices[{i}]", o) for i, o in enumerate(message.offices)),
        agreements=tuple(
            _agreement(f"agreements[{i}]", a) for i, a in enumerate(message.agreements)
        ),
    )
    problems = content_problems(content)
    if problems:
        raise _broken(problems)
    return normalized(content)


def _office(path: str, entry: pb.OfficeEntry) -> Office:
    suites = {suite.value: suite for suite in Suite}
    if entry.suite not in suites:
        raise InputError(f"{path}.suite: unknown suite {entry.suite[:40]!r}")
    keys = []
    for index, item in enumerate(entry.keys):
        where = f"{path}.keys[{index}]"
        revocation = None
        if item.HasField("revocation"):
            reason = _category(
                f"{where}.revocation.reason", item.revocation.reason, RevocationReason
            )
            revoked_at = _when(item.revocation, "revoked_at", f"{where}.revocation.revoked_at")
            revocation = Revocation(revoked_at, reason)
        key = OfficeKey(
            use=_enum(f"{where}.use", item.use, KeyUse),
            public_key=item.public_key,
            not_before=_when(item, "not_before", f"{where}.not_before"),
            not_after=_when(item, "not_after", f"{where}.not_after"),
            revocation=revocation,
        )
        _stored_id(where, item.key_id, key.key_id)
        keys.append(key)
    return Office(
        id=entry.id,
        names=tuple((name.language, name.name) for name in entry.names),
        country=entry.country,
        time_zone=entry.time_zone,
        languages=tuple(entry.languages),
        suite=suites[entry.suite],
        adapter=Adapter(entry.adapter.name, tuple(sorted(entry.adapter.settings.items()))),
        routing=Routing(entry.routing.site, entry.routing.broker),
        urgent_contact=entry.urgent_contact,
        keys=tuple(keys),
    )


def _agreement(path: str, entry: pb.Agreement) -> Agreement:
    return Agreement(
        id=entry.id,
        title=entry.title,
        parties=tuple(entry.parties),
        enquiry_types=tuple(
            _enum(f"{path}.enquiry_types", t, EnquiryType) for t in entry.enquiry_types
        ),
        handling_codes=tuple(
            _enum(f"{path}.handling_codes", h, Handling) for h in entry.handling_codes
        ),
        max_priority=_enum(f"{path}.max_priority", entry.max_priority, Priority),
        attachments_allowed=entry.attachments_allowed,
        data_categories=tuple(
            _category(f"{path}.data_categories", c, DataCategory) for c in entry.data_categories
        ),
        valid_from=_when(entry, "valid_from", f"{path}.valid_from"),
        valid_until=_when(entry, "valid_until", f"{path}.valid_until")
        if entry.HasField("valid_until")
        else None,
    )


def _parse(kind: type[M], data: bytes, what: str) -> M:
    message = kind()
    try:
        message.ParseFromString(bytes(data))
    except (DecodeError, TypeError, ValueError, RecursionError):
        raise InputError(f"not a valid {what} encoding") from None
    size = message.ByteSize()
    message.DiscardUnknownFields()
    if message.ByteSize() != size:
        raise InputError(f"the {what} carries fields unknown to this version")
    return message


def _need(message: Message, name: str, path: str) -> None:
    if not message.HasField(name):
        raise InputError(f"{path} is missing")


def _when(message: Message, name: str, path: str) -> datetime:
    """The Timestamp field ``name`` of ``message`` as an aware UTC datetime."""
    _need(message, name, path)
    stamp = getattr(message, name)
    if not isinstance(stamp, Timestamp):  # pragma: no cover - every caller names a Timestamp
        raise InputError(f"{path} is not a time")

    if not MIN_SECONDS <= stamp.seconds <= MAX_SECONDS or not 0 <= stamp.nanos < 10**9:
        raise InputError(f"{path}: not a time between the years 1 and 9999")
    if stamp.nanos % 1000:
        raise InputError(f"{path}: finer than a microsecond")
    return EPOCH + timedelta(seconds=stamp.seconds, microseconds=stamp.nanos // 1000)


def _enum(path: str, number: int, kind: type[E]) -> E:
    try:
        return kind(number)
    except ValueError:
        raise InputError(f"{path}: {number} is not a known value") from None


C = TypeVar("C", DataCategory, RevocationReason)


def _category(path: str, text: str, kind: type[C]) -> C:
    try:
        return kind(text)
    except ValueError:
        raise InputError(f"{path}: {text[:40]!r} is not a known value") from None


def _stored_id(path: str, stored: bytes, derived: bytes) -> None:
    if stored != derived:
        raise InputError(f"{path}.key_id is not the id of its public key")
