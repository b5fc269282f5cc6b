"""What opening an envelope needs from the directory: the sender's signing key at a time.

``DirectoryView`` is the interface the real directory implements. ``StaticDirectory`` is a
minimal one over a fixed mapping, for tests, vectors and the CLI until the directory lands.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from broker.envelope.key_ids import signing_key_id
from broker.errors import InputError, PeerError, RejectReason
from broker.keys.model import OfficePublicKeys


class DirectoryView(Protocol):
    """The part of the directory an opener reads."""

    @property
    def version(self) -> int: ...

    def signing_key(self, office_id: str, key_id: bytes, at: datetime) -> bytes:
        """The raw Ed25519 public key with ``key_id`` valid for ``office_id`` at ``at``.

        Raises PeerError with UNKNOWN_SENDER, SENDER_KEY_EXPIRED, SENDER_KEY_NOT_YET_VALID or
        SENDER_KEY_REVOKED.
        """
        ...


@dataclass(frozen=True, slots=True)
class KeyWindow:
    """When a signing key may be used: [not_before, not_after), and not from revoked_at on."""

    not_before: datetime | None = None
    not_after: datetime | None = None
    revoked_at: datetime | None = None


_NO_LIMITS = KeyWindow()  # the window of a key the directory sets no dates for


@dataclass(frozen=True)
class StaticDirectory:
    """A fixed directory: offices by id, and optional validity windows by signing key id."""

    version: int
    offices: Mapping[str, OfficePublicKeys]
    windows: Mapping[bytes, KeyWindow] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for office_id, keys in self.offices.items():
            if keys.office_id != office_id:
                raise InputError(f"directory entry {office_id} holds the keys of {keys.office_id}")

    @classmethod
    def of(
        cls,
        version: int,
        offices: Iterable[OfficePublicKeys],
        windows: Mapping[bytes, KeyWindow] | None = None,
    ) -> StaticDirectory:
        """Build from a list of offices' public keys."""
        return cls(version, {o.office_id: o for o in offices}, dict(windows or {}))

    def signing_key(self, office_id: str, key_id: bytes, at: datetime) -> bytes:
        office = self.offices.get(office_id)
        if office is None:
            raise PeerError(RejectReason.UNKNOWN_SENDER, f"office {office_id!r} is not listed")
        if signing_key_id(office) != key_id:
            raise PeerError(
                RejectReason.UNKNOWN_SENDER, f"key {key_id.hex()} is not listed for {office_id!r}"
            )
        window = self.windows.get(key_id, _NO_LIMITS)
        # Revocation first: it is the most serious verdict and overrides the others.
        if window.revoked_at is not None and at >= window.revoked_at:
            raise PeerError(RejectReason.SENDER_KEY_REVOKED, f"key {key_id.hex()} is revoked")
        if window.not_before is not None and at < window.not_before:
            raise PeerError(
                RejectReason.SENDER_KEY_NOT_YET_VALID, f"key {key_id.hex()} is not yet valid"
            )
        if window.not_after is not None and at >= window.not_after:
            raise PeerError(RejectReason.SENDER_KEY_EXPIRED, f"key {key_id.hex()} has expired")
        return office.signing
