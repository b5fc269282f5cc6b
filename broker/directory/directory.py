"""An accepted directory and what an office asks of it: keys at a time, recipients, agreements.

Pure. ``Directory`` satisfies ``broker.envelope.DirectoryView``. Key validity at a time
(docs/directory.md, "Key validity"):

* a key is valid at ``at`` when ``not_before <= at < not_after`` and it is not revoked at
  ``at`` (``at < revoked_at``); revocation is checked first and overrides the rest, so an audit
  still verifies a message signed before ``revoked_at`` and a newer one is refused;
* to seal, the *current* key of a use is the valid one that started last;
* an office's own expired encryption (or hybrid) key still opens messages for
  ``encryption_key_grace`` after its ``not_after`` (mail in flight during a rotation), never
  after its ``revoked_at``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from broker.directory.model import (
    Agreement,
    DirectoryContent,
    KeyStatus,
    Office,
    OfficeKey,
    Root,
)
from broker.directory.vocabulary import KeyUse
from broker.directory.wire import decode_content
from broker.envelope.sealing import Recipient
from broker.envelope.suite import Suite
from broker.errors import InputError, PeerError, RejectReason
from broker.keys.model import HybridPublicKey, OfficePublicKeys

_REJECTIONS = {
    KeyStatus.REVOKED: (RejectReason.SENDER_KEY_REVOKED, "is revoked"),
    KeyStatus.NOT_YET_VALID: (RejectReason.SENDER_KEY_NOT_YET_VALID, "is not yet valid"),
    KeyStatus.EXPIRED: (RejectReason.SENDER_KEY_EXPIRED, "has expired"),
}


@dataclass(frozen=True)
class Directory:
    """A directory's content and its exact signed bytes (whose SHA-256 is its digest).

    Build one with ``broker.directory.accept_directory`` (trusted) or ``Directory.decode``
    (to look at a file without trusting it).
    """

    content: DirectoryContent
    content_bytes: bytes = field(repr=False)
    _offices: Mapping[str, Office] = field(init=False, repr=False, compare=False)
    _agreements: Mapping[str, Agreement] = field(init=False, repr=False, compare=False)
    _keys: Mapping[tuple[str, bytes], OfficeKey] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        offices = {office.id: office for office in self.content.offices}
        keys = {(o.id, key.key_id): key for o in self.content.offices for key in o.keys}
        object.__setattr__(self, "_offices", offices)
        object.__setattr__(self, "_agreements", {a.id: a for a in self.content.agreements})
        object.__setattr__(self, "_keys", keys)

    @classmethod
    def decode(cls, content_bytes: bytes) -> Directory:
        """The directory in ``content_bytes``, checked for form only (no signature, no trust)."""
        return cls(decode_content(content_bytes), bytes(content_bytes))

    # ------------------------------------------------------------ the whole directory

    @property
    def version(self) -> int:
        return self.content.version

    @property
    def issued_at(self) -> datetime:
        return self.content.issued_at

    @property
    def expires_at(self) -> datetime:
        return self.content.expires_at

    @property
    def root(self) -> Root:
        return self.content.root

    @property
    def digest(self) -> bytes:
        """SHA-256 of the content bytes: what the persisted state remembers."""
        return hashlib.sha256(self.content_bytes).digest()

    @property
    def offices(self) -> tuple[Office, ...]:
        return self.content.offices

    @property
    def agreements(self) -> tuple[Agreement, ...]:
        return self.content.agreements

    def office(self, office_id: str) -> Office | None:
        return self._offices.get(office_id)

    def agreement(self, agreement_id: str) -> Agreement | None:
        return self._agreements.get(agreement_id)

    # ------------------------------------------------------------ keys at a time

    def key_for(self, office_id: str, key_id: bytes, at: datetime) -> OfficeKey:
        """The key ``key_id`` of ``office_id`` if it was valid at ``at``; PeerError otherwise
        (UNKNOWN_SENDER, SENDER_KEY_REVOKED, SENDER_KEY_NOT_YET_VALID, SENDER_KEY_EXPIRED)."""
        if office_id not in self._offices:
            raise PeerError(RejectReason.UNKNOWN_SENDER, f"office {office_id[:64]!r} is not listed")
        key = self._keys.get((office_id, bytes(key_id)))
        if key is None:
            raise PeerError(
                RejectReason.UNKNOWN_SENDER,
                f"key {key_id.hex()[:32]} is not listed for {office_id}",
            )
        status = key.status_at(at)
        if status is not KeyStatus.VALID:
            reason, words = _REJECTIONS[status]
            raise PeerError(reason, f"{key.use.label} key {key_id.hex()} of {office_id} {words}")
        return key

    def signing_key(self, office_id: str, key_id: bytes, at: datetime) -> bytes:
        """The raw Ed25519 key ``key_id`` of ``office_id`` valid at ``at`` (DirectoryView)."""
        key = self.key_for(office_id, key_id, at)
        if key.use is not KeyUse.SIGNING:
            raise PeerError(
                RejectReason.UNKNOWN_SENDER,
                f"key {key_id.hex()} of {office_id} is not a signing key",
            )
        return key.public_key

    def current_key(self, office_id: str, use: KeyUse, at: datetime) -> OfficeKey | None:
        """The valid key of ``use`` that started last, for sealing and signing at ``at``."""
        office = self._offices.get(office_id)
        if office is None:
            return None
        valid = [k for k in office.keys_of(use) if k.status_at(at) is KeyStatus.VALID]
        return max(valid, key=lambda k: (k.not_before, k.key_id), default=None)

    def recipient(self, office_id: str, at: datetime) -> Recipient:
        """``office_id`` as an addressee at ``at``: its suite and current keys; InputError if it
        is not listed or has no valid key for its suite."""
        office = self._offices.get(office_id)
        if office is None:
            raise InputError(f"office {office_id} is not in directory version {self.version}")
        encryption = self.current_key(office_id, KeyUse.ENCRYPTION, at)
        hybrid = self.current_key(office_id, KeyUse.HYBRID, at)
        if encryption is None or (office.suite is Suite.V1_PQ and hybrid is None):
            use = "encryption" if encryption is None else "hybrid"
            raise InputError(f"office {office_id} has no valid {use} key at {at.isoformat()}")
        # The signing key plays no part in sealing; the newest one fills the field.
        signing = self.current_key(office_id, KeyUse.SIGNING, at) or max(
            office.keys_of(KeyUse.SIGNING), key=lambda k: k.not_before
        )
        public = OfficePublicKeys(
            office_id=office_id,
            signing=signing.public_key,
            encryption=encryption.public_key,
            hybrid=None
            if hybrid is None
            else HybridPublicKey(hybrid.public_key[:1184], hybrid.public_key[1184:]),
        )
        return Recipient(office_id, office.suite, public)

    def decryption_key_acceptable(self, office_id: str, key_id: bytes, at: datetime) -> bool:
        """Whether a message wrapped to ``office_id``'s encryption or hybrid key ``key_id`` may
        be opened at ``at``: the key started, is not revoked at ``at``, and expired less than
        the grace period ago."""
        key = self._keys.get((office_id, bytes(key_id)))
        if key is None or key.use is KeyUse.SIGNING:
            return False
        if key.revocation is not None and at >= key.revocation.revoked_at:
            return False
        return key.not_before <= at < key.not_after + self.content.encryption_key_grace
