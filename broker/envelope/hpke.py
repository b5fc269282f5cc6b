"""RFC 9180 HPKE, base mode, single-shot Seal for DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
ChaCha20-Poly1305: the ``liaison-v1`` key wrap.

Why our own Seal: cryptography's ``hpke.Suite.encrypt`` draws the ephemeral key itself, so its
output cannot be reproduced. Here the ephemeral key pair comes from RFC 9180 ``DeriveKeyPair``
over 32 bytes the caller draws from ``rng``, so a fixed ``rng`` gives byte-identical envelopes
(and test vectors). Opening uses cryptography's ``hpke.Suite.decrypt``; tests check both
directions and the RFC 9180 test vector (Appendix A.2.1).

Names follow RFC 9180 sections 4, 4.1, 5.1, 6.1 and 7.1.3.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

KEM_ID = 0x0020  # DHKEM(X25519, HKDF-SHA256)
KDF_ID = 0x0001  # HKDF-SHA256
AEAD_ID = 0x0003  # ChaCha20Poly1305
MODE_BASE = 0x00

_HPKE_V1 = b"HPKE-v1"
_KEM_SUITE_ID = b"KEM" + KEM_ID.to_bytes(2, "big")
_HPKE_SUITE_ID = (
    b"HPKE" + KEM_ID.to_bytes(2, "big") + KDF_ID.to_bytes(2, "big") + AEAD_ID.to_bytes(2, "big")
)
_NH = 32  # SHA-256 output
_NSECRET = 32  # DHKEM(X25519) shared secret
_NSK = 32
_NK = 32  # ChaCha20-Poly1305 key
_NN = 12  # ChaCha20-Poly1305 nonce


def _extract(salt: bytes, ikm: bytes) -> bytes:
    # HKDF-Extract (RFC 5869); HMAC pads an empty key with zeros, as HKDF's default salt is.
    return hmac.digest(salt, ikm, hashlib.sha256)


def _expand(prk: bytes, info: bytes, length: int) -> bytes:
    # HKDF-Expand (RFC 5869); every length used here is far below the 255 * 32 limit.
    okm, block, counter = b"", b"", 1
    while len(okm) < length:
        block = hmac.digest(prk, block + info + bytes([counter]), hashlib.sha256)
        okm += block
        counter += 1
    return okm[:length]


def _labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return _extract(salt, _HPKE_V1 + suite_id + label + ikm)


def _labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    labeled_info = length.to_bytes(2, "big") + _HPKE_V1 + suite_id + label + info
    return _expand(prk, labeled_info, length)


def derive_key_pair(ikm: bytes) -> x25519.X25519PrivateKey:
    """RFC 9180 section 7.1.3 DeriveKeyPair for X25519 (the private key clamps on use)."""
    dkp_prk = _labeled_extract(_KEM_SUITE_ID, b"", b"dkp_prk", ikm)
    sk = _labeled_expand(_KEM_SUITE_ID, dkp_prk, b"sk", b"", _NSK)
    return x25519.X25519PrivateKey.from_private_bytes(sk)


@dataclass(frozen=True, slots=True)
class SealedSecrets:
    """The intermediate values of one Seal, kept for the RFC 9180 test vector only."""

    shared_secret: bytes = field(repr=False)
    key: bytes = field(repr=False)
    base_nonce: bytes = field(repr=False)


def _encap(pk_r: bytes, ikm_e: bytes) -> tuple[bytes, bytes]:
    """DHKEM Encap with the ephemeral key from ``DeriveKeyPair(ikm_e)``: (shared_secret, enc).

    Raises ValueError (from cryptography) if ``pk_r`` is a low-order point.
    """
    sk_e = derive_key_pair(ikm_e)
    enc = sk_e.public_key().public_bytes_raw()
    dh = sk_e.exchange(x25519.X25519PublicKey.from_public_bytes(pk_r))
    eae_prk = _labeled_extract(_KEM_SUITE_ID, b"", b"eae_prk", dh)
    shared_secret = _labeled_expand(_KEM_SUITE_ID, eae_prk, b"shared_secret", enc + pk_r, _NSECRET)
    return shared_secret, enc


def _key_schedule_base(shared_secret: bytes, info: bytes) -> tuple[bytes, bytes]:
    """KeySchedule in base mode (empty psk and psk_id): (key, base_nonce)."""
    psk_id_hash = _labeled_extract(_HPKE_SUITE_ID, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(_HPKE_SUITE_ID, b"", b"info_hash", info)
    context = bytes([MODE_BASE]) + psk_id_hash + info_hash
    secret = _labeled_extract(_HPKE_SUITE_ID, shared_secret, b"secret", b"")
    key = _labeled_expand(_HPKE_SUITE_ID, secret, b"key", context, _NK)
    base_nonce = _labeled_expand(_HPKE_SUITE_ID, secret, b"base_nonce", context, _NN)
    return key, base_nonce


def seal_base_traced(
    pk_r: bytes, info: bytes, aad: bytes, plaintext: bytes, ikm_e: bytes
) -> tuple[bytes, bytes, SealedSecrets]:
    """Single-shot SealBase (sequence number 0): (enc, ciphertext, intermediate secrets)."""
    shared_secret, enc = _encap(pk_r, ikm_e)
    key, base_nonce = _key_schedule_base(shared_secret, info)
    ciphertext = ChaCha20Poly1305(key).encrypt(base_nonce, plaintext, aad)
    return enc, ciphertext, SealedSecrets(shared_secret, key, base_nonce)


def seal_base(pk_r: bytes, info: bytes, aad: bytes, plaintext: bytes, ikm_e: bytes) -> bytes:
    """Single-shot SealBase: ``enc || ciphertext``, as cryptography's ``Suite.encrypt`` returns."""
    enc, ciphertext, _ = seal_base_traced(pk_r, info, aad, plaintext, ikm_e)
    return enc + ciphertext
