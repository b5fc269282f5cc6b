"""Office key pairs as values, key ids and fingerprints. Pure: no files, no clock.

Each office has an Ed25519 signing key pair, an X25519 encryption key pair (suite ``liaison-v1``)
and, optionally, an ML-KEM-768 + X25519 hybrid encryption key pair (suite ``liaison-v1-pq``).

A key id is the first 16 bytes of SHA-256 over a domain label, the algorithm name and the raw
public key (docs/envelope.md, "Key ids")::

    key_id = SHA-256("liaison-v1 key id" || 0x00 || alg || 0x00 || public_key)[:16]
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import ed25519, mlkem, x25519

from broker.errors import KeyFileError

KEY_ID_LABEL = b"liaison-v1 key id"
KEY_ID_LEN = 16


class KeyAlg(enum.StrEnum):
    """Algorithm names as they appear in key ids, key files and the directory."""

    ED25519 = "ed25519"
    X25519 = "x25519"
    MLKEM768_X25519 = "mlkem768-x25519"


def key_id(alg: KeyAlg, public_key: bytes) -> bytes:
    """The 16-byte id of a public key (see the module docstring)."""
    digest = hashlib.sha256(KEY_ID_LABEL + b"\x00" + alg.value.encode() + b"\x00" + public_key)
    return digest.digest()[:KEY_ID_LEN]


def fingerprint(alg: KeyAlg, public_key: bytes) -> str:
    """A key id as eight groups of four hex digits, for two officers to compare by phone."""
    hexed = key_id(alg, public_key).hex().upper()
    return " ".join(hexed[i : i + 4] for i in range(0, len(hexed), 4))


@dataclass(frozen=True, slots=True)
class HybridPublicKey:
    """ML-KEM-768 + X25519 public key: the ML-KEM encapsulation key (1184 bytes) and X25519."""

    mlkem: bytes
    x25519: bytes

    def raw(self) -> bytes:
        """mlkem || x25519, the bytes the key id is computed over."""
        return self.mlkem + self.x25519

    def to_hpke(self) -> hpke.MLKEM768X25519PublicKey:
        return hpke.MLKEM768X25519PublicKey(
            mlkem.MLKEM768PublicKey.from_public_bytes(self.mlkem),
            x25519.X25519PublicKey.from_public_bytes(self.x25519),
        )


@dataclass(frozen=True, slots=True)
class OfficePublicKeys:
    """What the directory publishes for an office."""

    office_id: str
    signing: bytes  # Ed25519, 32 bytes
    encryption: bytes  # X25519, 32 bytes
    hybrid: HybridPublicKey | None = None

    @property
    def signing_key_id(self) -> bytes:
        return key_id(KeyAlg.ED25519, self.signing)

    @property
    def encryption_key_id(self) -> bytes:
        return key_id(KeyAlg.X25519, self.encryption)

    @property
    def hybrid_key_id(self) -> bytes | None:
        return None if self.hybrid is None else key_id(KeyAlg.MLKEM768_X25519, self.hybrid.raw())


@dataclass(frozen=True, slots=True)
class OfficeKeys:
    """An office's private keys. Never printed: every key field is ``repr=False``."""

    office_id: str
    signing: ed25519.Ed25519PrivateKey = field(repr=False)
    encryption: x25519.X25519PrivateKey = field(repr=False)
    # The hybrid key is kept as its two seeds' key objects so that it can be saved and reloaded.
    hybrid_mlkem: mlkem.MLKEM768PrivateKey | None = field(default=None, repr=False)
    hybrid_x25519: x25519.X25519PrivateKey | None = field(default=None, repr=False)
    # Values derived from the keys above, computed on first use and kept: deriving them costs
    # more than the hot path they serve (sealing, opening). Not constructor arguments, not
    # compared, not shown; ``dataclasses.replace`` gives the new value empty caches.
    _public: OfficePublicKeys | None = field(default=None, init=False, repr=False, compare=False)
    _signing_pair: bytes | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def generate(cls, office_id: str, *, pq: bool = False) -> OfficeKeys:
        return cls(
            office_id=office_id,
            signing=ed25519.Ed25519PrivateKey.generate(),
            encryption=x25519.X25519PrivateKey.generate(),
            hybrid_mlkem=mlkem.MLKEM768PrivateKey.generate() if pq else None,
            hybrid_x25519=x25519.X25519PrivateKey.generate() if pq else None,
        )

    @classmethod
    def from_seeds(
        cls,
        office_id: str,
        *,
        signing: bytes,
        encryption: bytes,
        hybrid_mlkem: bytes | None = None,
        hybrid_x25519: bytes | None = None,
    ) -> OfficeKeys:
        """Rebuild from raw private bytes (32-byte Ed25519/X25519 seeds, 64-byte ML-KEM seed)."""
        if (hybrid_mlkem is None) != (hybrid_x25519 is None):
            raise KeyFileError("a hybrid key needs both its ML-KEM and its X25519 part")
        return cls(
            office_id=office_id,
            signing=ed25519.Ed25519PrivateKey.from_private_bytes(signing),
            encryption=x25519.X25519PrivateKey.from_private_bytes(encryption),
            hybrid_mlkem=None
            if hybrid_mlkem is None
            else mlkem.MLKEM768PrivateKey.from_seed_bytes(hybrid_mlkem),
            hybrid_x25519=None
            if hybrid_x25519 is None
            else x25519.X25519PrivateKey.from_private_bytes(hybrid_x25519),
        )

    @property
    def has_hybrid(self) -> bool:
        return self.hybrid_mlkem is not None and self.hybrid_x25519 is not None

    def hybrid_private(self) -> hpke.MLKEM768X25519PrivateKey:
        if self.hybrid_mlkem is None or self.hybrid_x25519 is None:
            raise KeyFileError(f"office {self.office_id} has no ML-KEM-768 + X25519 key")
        return hpke.MLKEM768X25519PrivateKey(self.hybrid_mlkem, self.hybrid_x25519)

    def public(self) -> OfficePublicKeys:
        """The public halves (computed once per value, then cached)."""
        public = self._public
        if public is None:
            public = self._derive_public()
            object.__setattr__(self, "_public", public)
        return public

    def signing_pair(self) -> bytes:
        """The Ed25519 seed followed by its public key: the 64-byte secret key libsodium signs
        with (``crypto_sign``). Key material: computed once per value, never shown or logged."""
        pair = self._signing_pair
        if pair is None:
            pair = self.signing.private_bytes_raw() + self.public().signing
            object.__setattr__(self, "_signing_pair", pair)
        return pair

    def _derive_public(self) -> OfficePublicKeys:
        hybrid = None
        if self.hybrid_mlkem is not None and self.hybrid_x25519 is not None:
            hybrid = HybridPublicKey(
                mlkem=self.hybrid_mlkem.public_key().public_bytes_raw(),
                x25519=self.hybrid_x25519.public_key().public_bytes_raw(),
            )
        return OfficePublicKeys(
            office_id=self.office_id,
            signing=self.signing.public_key().public_bytes_raw(),
            encryption=self.encryption.public_key().public_bytes_raw(),
            hybrid=hybrid,
        )
