"""The directory's content as frozen values (docs/directory.md, "Content"). Pure.

Values hold what the administrators wrote; the rules that tie them together (unique ids, key
windows, known parties) live in ``checks.py`` so that the TOML compiler and the wire decoder
report the same problems. Sets are sorted tuples, so equal directories are equal values.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from broker.directory.vocabulary import DataCategory, KeyUse, RevocationReason
from broker.envelope.suite import Suite
from broker.keys.model import KeyAlg, fingerprint, key_id
from broker.model.codes import EnquiryType, Handling, Priority


class KeyStatus(enum.Enum):
    """A key's standing at one instant."""

    VALID = "valid"
    NOT_YET_VALID = "not-yet-valid"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class AdminKey:
    """One directory administrator's Ed25519 public key."""

    name: str
    public_key: bytes = field(repr=False)

    @property
    def key_id(self) -> bytes:
        return key_id(KeyAlg.ED25519, self.public_key)

    @property
    def fingerprint(self) -> str:
        return fingerprint(KeyAlg.ED25519, self.public_key)


@dataclass(frozen=True, slots=True)
class Root:
    """Who may sign a directory: the administrators' keys and how many must sign."""

    keys: tuple[AdminKey, ...]
    threshold: int

    def key(self, wanted: bytes) -> AdminKey | None:
        """The listed key with id ``wanted``, if any."""
        return next((admin for admin in self.keys if admin.key_id == wanted), None)

    def same_trust(self, other: Root) -> bool:
        """Whether ``other`` trusts exactly the same keys with the same threshold (names, which
        are labels, may differ)."""
        return self.threshold == other.threshold and {k.public_key for k in self.keys} == {
            k.public_key for k in other.keys
        }


@dataclass(frozen=True, slots=True)
class Revocation:
    revoked_at: datetime
    reason: RevocationReason


@dataclass(frozen=True, slots=True)
class OfficeKey:
    """One public key of an office, valid in [not_before, not_after) unless revoked earlier."""

    use: KeyUse
    public_key: bytes = field(repr=False)
    not_before: datetime
    not_after: datetime
    revocation: Revocation | None = None

    @property
    def key_id(self) -> bytes:
        return key_id(self.use.alg, self.public_key)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.use.alg, self.public_key)

    @property
    def effective_end(self) -> datetime:
        """The first instant the key is no longer usable: its expiry or its revocation."""
        if self.revocation is None:
            return self.not_after
        return min(self.not_after, self.revocation.revoked_at)

    def status_at(self, at: datetime) -> KeyStatus:
        """The key's standing at ``at``; revocation is checked first, it overrides the rest."""
        if self.revocation is not None and at >= self.revocation.revoked_at:
            return KeyStatus.REVOKED
        if at < self.not_before:
            return KeyStatus.NOT_YET_VALID
        if at >= self.not_after:
            return KeyStatus.EXPIRED
        return KeyStatus.VALID


@dataclass(frozen=True, slots=True)
class Adapter:
    """The partner format an office's daemon speaks, and its transport settings."""

    name: str
    settings: tuple[tuple[str, str], ...] = ()  # (name, value), sorted by name


@dataclass(frozen=True, slots=True)
class Routing:
    site: str
    broker: str


@dataclass(frozen=True, slots=True)
class Office:
    """One office and its keys."""

    id: str
    names: tuple[tuple[str, str], ...]  # (BCP 47 language, display name)
    country: str  # ISO 3166-1 alpha-3
    time_zone: str  # IANA
    languages: tuple[str, ...]  # working languages, BCP 47, preferred first
    suite: Suite
    adapter: Adapter
    routing: Routing
    urgent_contact: str
    keys: tuple[OfficeKey, ...]

    def keys_of(self, use: KeyUse) -> tuple[OfficeKey, ...]:
        return tuple(key for key in self.keys if key.use is use)

    def display_name(self, *preferred: str) -> str:
        """The name in the first of ``preferred`` languages it has, else in English, else the
        first name listed, else the office id."""
        names = dict(self.names)
        for language in (*preferred, "en"):
            if language in names:
                return names[language]
        return self.names[0][1] if self.names else self.id


@dataclass(frozen=True, slots=True)
class Agreement:
    """What an agreement allows between its parties, and when it is in force."""

    id: str
    title: str
    parties: tuple[str, ...]
    enquiry_types: tuple[EnquiryType, ...]
    handling_codes: tuple[Handling, ...]
    max_priority: Priority
    attachments_allowed: bool
    data_categories: tuple[DataCategory, ...]
    valid_from: datetime
    valid_until: datetime | None = None

    def in_force(self, at: datetime) -> bool:
        return self.valid_from <= at and (self.valid_until is None or at < self.valid_until)


@dataclass(frozen=True, slots=True)
class DirectoryContent:
    """Everything the administrators sign."""

    version: int
    issued_at: datetime
    expires_at: datetime
    issuer: str
    root: Root
    encryption_key_grace: timedelta
    max_rotation_overlap: timedelta
    offices: tuple[Office, ...]
    agreements: tuple[Agreement, ...]


def normalized(content: DirectoryContent) -> DirectoryContent:
    """The same content in the canonical order of docs/directory.md: offices and agreements by
    id, keys by use then start then id, names by language, every set sorted. Working languages
    keep their order (it is a preference)."""
    return replace(
        content,
        root=replace(content.root, keys=tuple(sorted(content.root.keys, key=_admin_order))),
        offices=tuple(sorted((_office(o) for o in content.offices), key=lambda o: o.id)),
        agreements=tuple(sorted((_agreement(a) for a in content.agreements), key=lambda a: a.id)),
    )


def _admin_order(admin: AdminKey) -> bytes:
    return admin.key_id


def _key_order(key: OfficeKey) -> tuple[int, datetime, bytes]:
    return key.use.value, key.not_before, key.key_id


def _office(office: Office) -> Office:
    return replace(
        office,
        names=tuple(sorted(office.names)),
        adapter=replace(office.adapter, settings=tuple(sorted(office.adapter.settings))),
        keys=tuple(sorted(office.keys, key=_key_order)),
    )


def _agreement(agreement: Agreement) -> Agreement:
    return replace(
        agreement,
        parties=tuple(sorted(agreement.parties)),
        enquiry_types=tuple(sorted(agreement.enquiry_types, key=lambda t: t.value)),
        handling_codes=tuple(sorted(agreement.handling_codes, key=lambda h: h.value)),
        data_categories=tuple(sorted(agreement.data_categories)),
    )
