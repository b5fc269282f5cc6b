"""Passphrase protection of private key bytes at rest: argon2id, then XSalsa20-Poly1305.

Pure: no files, no environment, no clock; randomness is a parameter. The key file format that
stores the result is in ``broker.keys.files`` and docs/keys.md.

The derived key is libsodium's ``crypto_pwhash`` with Argon2id v1.3 (parallelism 1, time cost
``opslimit``, memory ``memlimit`` bytes), 32 bytes long; the cipher is libsodium's
``crypto_secretbox`` (XSalsa20-Poly1305, 24-byte nonce, 16-byte tag in front of the ciphertext).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import nacl.exceptions
import nacl.pwhash.argon2id
import nacl.secret

from broker.errors import KeyFileError

SALT_LEN = 16  # crypto_pwhash_argon2id_SALTBYTES
NONCE_LEN = 24  # crypto_secretbox_NONCEBYTES
KEY_LEN = 32  # crypto_secretbox_KEYBYTES
TAG_LEN = 16  # crypto_secretbox_MACBYTES

OPSLIMIT_MIN = 1  # crypto_pwhash_argon2id_OPSLIMIT_MIN
MEMLIMIT_MIN = 8192  # crypto_pwhash_argon2id_MEMLIMIT_MIN, bytes
# Upper bounds we accept when reading a file: a tampered file must not be able to make loading
# the keys take minutes or exhaust memory. libsodium's "sensitive" level (4, 1 GiB) fits.
OPSLIMIT_ACCEPTED_MAX = 32
MEMLIMIT_ACCEPTED_MAX = 4 * 1024**3


@dataclass(frozen=True, slots=True)
class Kdf:
    """Argon2id cost parameters. The default is libsodium's "moderate" level (~0.5 s, 256 MiB).

    ``Kdf.minimum()`` is for tests only: it protects nothing against guessing.
    """

    opslimit: int = 3  # crypto_pwhash_argon2id_OPSLIMIT_MODERATE
    memlimit: int = 256 * 1024**2  # crypto_pwhash_argon2id_MEMLIMIT_MODERATE, bytes

    def __post_init__(self) -> None:
        if not OPSLIMIT_MIN <= self.opslimit <= OPSLIMIT_ACCEPTED_MAX:
            raise KeyFileError(
                f"argon2id opslimit {self.opslimit} is outside"
                f" {OPSLIMIT_MIN}..{OPSLIMIT_ACCEPTED_MAX}"
            )
        if not MEMLIMIT_MIN <= self.memlimit <= MEMLIMIT_ACCEPTED_MAX or self.memlimit % 1024:
            raise KeyFileError(
                f"argon2id memlimit {self.memlimit} is not a multiple of 1024 bytes within"
                f" {MEMLIMIT_MIN}..{MEMLIMIT_ACCEPTED_MAX}"
            )

    @classmethod
    def minimum(cls) -> Kdf:
        return cls(opslimit=OPSLIMIT_MIN, memlimit=MEMLIMIT_MIN)


@dataclass(frozen=True, slots=True)
class SealedSecret:
    """Private key bytes under a passphrase: what a protected key file stores."""

    kdf: Kdf
    salt: bytes
    nonce: bytes
    ciphertext: bytes  # tag || encrypted bytes, as crypto_secretbox_easy returns them


class Unlocker:
    """A passphrase and the keys already derived from it, so that files written together
    (same salt and cost) cost one argon2id run to open, not one each."""

    __slots__ = ("_derived", "_passphrase")

    def __init__(self, passphrase: bytes) -> None:
        self._passphrase = passphrase
        self._derived: dict[tuple[bytes, int, int], bytes] = {}

    def __repr__(self) -> str:
        return "Unlocker(<passphrase redacted>)"

    def key_for(self, salt: bytes, kdf: Kdf) -> bytes:
        """The 32-byte secretbox key for this salt and cost."""
        if len(salt) != SALT_LEN:
            raise KeyFileError(f"argon2id salt must be {SALT_LEN} bytes, not {len(salt)}")
        cache_key = (salt, kdf.opslimit, kdf.memlimit)
        if cache_key not in self._derived:
            try:
                derived: bytes = nacl.pwhash.argon2id.kdf(
                    KEY_LEN, self._passphrase, salt, opslimit=kdf.opslimit, memlimit=kdf.memlimit
                )
            except nacl.exceptions.CryptoError as exc:  # e.g. not enough memory for memlimit
                raise KeyFileError(
                    f"argon2id key derivation failed ({type(exc).__name__})"
                ) from None
            self._derived[cache_key] = derived
        return self._derived[cache_key]

    def seal(
        self,
        secret: bytes,
        *,
        salt: bytes,
        kdf: Kdf,
        rng: Callable[[int], bytes] = os.urandom,
    ) -> SealedSecret:
        """Encrypt ``secret`` under the key derived from this passphrase, ``salt`` and ``kdf``."""
        nonce = rng(NONCE_LEN)
        box = nacl.secret.SecretBox(self.key_for(salt, kdf))
        ciphertext: bytes = box.encrypt(secret, nonce).ciphertext
        return SealedSecret(kdf=kdf, salt=salt, nonce=nonce, ciphertext=ciphertext)

    def open(self, sealed: SealedSecret) -> bytes | None:
        """The secret, or None if the passphrase is wrong or the ciphertext was altered."""
        if len(sealed.nonce) != NONCE_LEN or len(sealed.ciphertext) < TAG_LEN:
            return None
        box = nacl.secret.SecretBox(self.key_for(sealed.salt, sealed.kdf))
        try:
            secret: bytes = box.decrypt(sealed.ciphertext, sealed.nonce)
        except nacl.exceptions.CryptoError:
            return None
        return secret
