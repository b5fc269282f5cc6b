"""Key ids of public keys, remembered: sealing and opening ask for the same few again and again.

``broker.keys.model.key_id`` is one SHA-256; this remembers its answers for the keys the
envelope code meets (ours, our peers', the directory's), which are few and public.
"""

from __future__ import annotations

import functools

from broker.keys.model import KeyAlg, OfficePublicKeys, key_id


@functools.lru_cache(maxsize=1024)
def _remembered(alg: KeyAlg, public_key: bytes) -> bytes:
    return key_id(alg, public_key)


def cached_key_id(alg: KeyAlg, public_key: bytes) -> bytes:
    """``key_id(alg, public_key)``, remembered (bounded: the least recently used go first)."""
    # bytes() keeps the cache key hashable even if a caller passes a bytearray; it does not
    # copy a bytes object.
    return _remembered(alg, bytes(public_key))


def signing_key_id(public: OfficePublicKeys) -> bytes:
    """``public.signing_key_id``, remembered."""
    return cached_key_id(KeyAlg.ED25519, public.signing)


def encryption_key_id(public: OfficePublicKeys) -> bytes:
    """``public.encryption_key_id`` (X25519), remembered."""
    return cached_key_id(KeyAlg.X25519, public.encryption)


def hybrid_key_id(public: OfficePublicKeys) -> bytes | None:
    """``public.hybrid_key_id``, remembered; None if the office has no hybrid key."""
    if public.hybrid is None:
        return None
    return cached_key_id(KeyAlg.MLKEM768_X25519, public.hybrid.raw())
