"""RFC 9180 HPKE, base mode, single-shot Seal and Open for DHKEM(X25519, HKDF-SHA256),
HKDF-SHA256, ChaCha20-Poly1305: the ``liaison-v1`` key wrap.

Why our own Seal: cryptography's ``hpke.Suite.encrypt`` draws the ephemeral key itself, so its
output cannot be reproduced. Here the ephemeral key pair comes from RFC 9180 ``DeriveKeyPair``
over 32 bytes the caller draws from ``rng``, so a fixed ``rng`` gives byte-identical envelopes
(and test vectors). Why our own Open: it is faster than ``hpke.Suite.decrypt`` (no key
re-import, fewer HMACs: see docs/performance.md). Tests check our Seal against the RFC 9180
test vector (Appendix A.2.1) and both directions against cryptography's HPKE.

The X25519 of Seal is libsodium's (PyNaCl): its fixed-base multiplication, which the ephemeral
public key needs, is twice as fast as loading a private key into cryptography. Open keeps
cryptography's X25519 with the recipient's already loaded private key. Both reject a low-order
peer point (an all-zero shared secret), as RFC 9180 section 7.1.4 requires.

Names follow RFC 9180 sections 4, 4.1, 5.1, 6.1 and 7.1.3.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

import nacl.bindings
import nacl.exceptions
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
_NPK = 32  # X25519 public key, and the encapsulated key
_NK = 32  # ChaCha20-Poly1305 key
_NN = 12  # ChaCha20-Poly1305 nonce

# HMAC-SHA256 under the empty key (HKDF-Extract's default salt): the states after hashing the
# zero-padded key XOR ipad and XOR opad, computed once. Each unsalted extract then costs two
# state copies instead of a full HMAC set-up (RFC 2104; checked by the RFC 9180 vector).
_EMPTY_KEY_INNER = hashlib.sha256(bytes([0x36]) * 64)
_EMPTY_KEY_OUTER = hashlib.sha256(bytes([0x5C]) * 64)


def _extract(salt: bytes, ikm: bytes) -> bytes:
    # HKDF-Extract (RFC 5869); HMAC pads an empty key with zeros, as HKDF's default salt is.
    if not salt:
        inner = _EMPTY_KEY_INNER.copy()
        inner.update(ikm)
        outer = _EMPTY_KEY_OUTER.copy()
        outer.update(inner.digest())
        return outer.digest()
    return hmac.digest(salt, ikm, "sha256")


def _expand(prk: bytes, info: bytes, length: int) -> bytes:
    # HKDF-Expand (RFC 5869) for the lengths this suite asks for, all at most one SHA-256
    # output (_NH): the first block T(1) = HMAC(PRK, info || 0x01), cut to length.
    return hmac.digest(prk, info + b"\x01", "sha256")[:length]


def _extract_label(suite_id: bytes, label: bytes) -> bytes:
    """What LabeledExtract puts before ``ikm``: ``"HPKE-v1" || suite_id || label``."""
    return _HPKE_V1 + suite_id + label


def _expand_label(suite_id: bytes, label: bytes, length: int) -> bytes:
    """What LabeledExpand puts before ``info``: ``I2OSP(L, 2) || "HPKE-v1" || suite_id ||
    label``."""
    return length.to_bytes(2, "big") + _HPKE_V1 + suite_id + label


# RFC 9180 LabeledExtract(salt, label, ikm) = Extract(salt, _extract_label(...) || ikm) and
# LabeledExpand(prk, label, info, L) = Expand(prk, _expand_label(...) || info, L): every label
# this suite uses, encoded once.
_DKP_PRK = _extract_label(_KEM_SUITE_ID, b"dkp_prk")
_SK = _expand_label(_KEM_SUITE_ID, b"sk", _NSK)
_EAE_PRK = _extract_label(_KEM_SUITE_ID, b"eae_prk")
_SHARED_SECRET = _expand_label(_KEM_SUITE_ID, b"shared_secret", _NSECRET)
_INFO_HASH = _extract_label(_HPKE_SUITE_ID, b"info_hash")
_SECRET = _extract_label(_HPKE_SUITE_ID, b"secret")
_KEY = _expand_label(_HPKE_SUITE_ID, b"key", _NK)
_BASE_NONCE = _expand_label(_HPKE_SUITE_ID, b"base_nonce", _NN)
# Base mode has an empty psk_id, so its hash, which begins every key schedule context after
# the mode byte, is a constant.
_BASE_CONTEXT_PREFIX = bytes([MODE_BASE]) + _extract(
    b"", _extract_label(_HPKE_SUITE_ID, b"psk_id_hash")
)


def _derive_secret(ikm: bytes) -> bytes:
    """RFC 9180 section 7.1.3 DeriveKeyPair for X25519: the private key's 32 bytes (unclamped;
    X25519 clamps on use)."""
    dkp_prk = _extract(b"", _DKP_PRK + ikm)
    return _expand(dkp_prk, _SK, _NSK)


def derive_key_pair(ikm: bytes) -> x25519.X25519PrivateKey:
    """RFC 9180 section 7.1.3 DeriveKeyPair for X25519 (the private key clamps on use)."""
    return x25519.X25519PrivateKey.from_private_bytes(_derive_secret(ikm))


@dataclass(frozen=True, slots=True)
class SealedSecrets:
    """The intermediate values of one Seal, kept for the RFC 9180 test vector only."""

    shared_secret: bytes = field(repr=False)
    key: bytes = field(repr=False)
    base_nonce: bytes = field(repr=False)


def _x25519(scalar: bytes, point: bytes) -> bytes:
    """libsodium's X25519; ValueError for a low-order ``point`` (all-zero result)."""
    # PyNaCl hands the buffers to C without checking their lengths: check them here.
    if len(scalar) != _NSK or len(point) != _NPK:
        raise ValueError("an X25519 scalar and point are 32 bytes each")
    try:
        return nacl.bindings.crypto_scalarmult(scalar, point)
    except nacl.exceptions.RuntimeError as exc:
        raise ValueError("X25519 with a low-order point") from exc


def _shared_secret(dh: bytes, enc: bytes, pk_r: bytes) -> bytes:
    """DHKEM ExtractAndExpand (RFC 9180 section 4.1), kem_context = enc || pkRm."""
    eae_prk = _extract(b"", _EAE_PRK + dh)
    return _expand(eae_prk, _SHARED_SECRET + enc + pk_r, _NSECRET)


def _encap(pk_r: bytes, ikm_e: bytes) -> tuple[bytes, bytes]:
    """DHKEM Encap with the ephemeral key from ``DeriveKeyPair(ikm_e)``: (shared_secret, enc).

    Raises ValueError if ``pk_r`` is not 32 bytes or is a low-order point.
    """
    sk_e = _derive_secret(ikm_e)
    dh = _x25519(sk_e, pk_r)
    enc = nacl.bindings.crypto_scalarmult_base(sk_e)  # sk_e is 32 bytes (HKDF output)
    return _shared_secret(dh, enc, pk_r), enc


def _key_schedule_base(shared_secret: bytes, info: bytes) -> tuple[bytes, bytes]:
    """KeySchedule in base mode (empty psk and psk_id): (key, base_nonce)."""
    context = _BASE_CONTEXT_PREFIX + _extract(b"", _INFO_HASH + info)
    secret = _extract(shared_secret, _SECRET)
    return _expand(secret, _KEY + context, _NK), _expand(secret, _BASE_NONCE + context, _NN)


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
    shared_secret, enc = _encap(pk_r, ikm_e)
    key, base_nonce = _key_schedule_base(shared_secret, info)
    return enc + ChaCha20Poly1305(key).encrypt(base_nonce, plaintext, aad)


def open_base(
    sk_r: x25519.X25519PrivateKey,
    pk_r: bytes,
    enc: bytes,
    info: bytes,
    ciphertext: bytes,
    *,
    aad: bytes = b"",
) -> bytes:
    """Single-shot OpenBase (sequence number 0) with the recipient's key pair.

    ``pk_r`` must be ``sk_r``'s public key (the caller keeps it, to spare a derivation).
    Raises ValueError for a malformed or low-order ``enc``, cryptography's InvalidTag if the
    ciphertext does not authenticate.
    """
    dh = sk_r.exchange(x25519.X25519PublicKey.from_public_bytes(enc))
    key, base_nonce = _key_schedule_base(_shared_secret(dh, enc, pk_r), info)
    return ChaCha20Poly1305(key).decrypt(base_nonce, ciphertext, aad)
