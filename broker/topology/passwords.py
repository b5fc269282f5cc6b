"""Broker passwords: generated from randomness, stored in definitions only as RabbitMQ hashes.

RabbitMQ's default ``rabbit_password_hashing_sha256`` stores
``base64(salt || SHA-256(salt || utf8(password)))`` with a 4-byte random salt. A salted single
SHA-256 is weak against guessing, so the passwords themselves carry 256 random bits: nothing to
guess. Pure: randomness is the ``rng`` parameter.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable

from broker.errors import InvalidMessage

HASHING_ALGORITHM = "rabbit_password_hashing_sha256"
SALT_BYTES = 4
PASSWORD_BYTES = 32

Rng = Callable[[int], bytes]


def new_password(*, rng: Rng = os.urandom) -> str:
    """A fresh broker password: 32 random bytes, base64url without padding (43 characters)."""
    raw = rng(PASSWORD_BYTES)
    if len(raw) != PASSWORD_BYTES:
        raise InvalidMessage("rng", f"returned {len(raw)} bytes, not {PASSWORD_BYTES}")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def rabbit_password_hash(password: str, *, rng: Rng = os.urandom) -> str:
    """The ``password_hash`` of a definitions user entry (``rabbit_password_hashing_sha256``)."""
    if not password:
        raise InvalidMessage("password", "is empty")
    salt = rng(SALT_BYTES)
    if len(salt) != SALT_BYTES:
        raise InvalidMessage("rng", f"returned {len(salt)} bytes, not {SALT_BYTES}")
    digest = hashlib.sha256(salt + password.encode("utf-8")).digest()
    return base64.b64encode(salt + digest).decode("ascii")


def password_matches(password: str, password_hash: str) -> bool:
    """Whether ``password_hash`` (salted SHA-256, as RabbitMQ stores it) is of ``password``."""
    try:
        raw = base64.b64decode(password_hash, validate=True)
    except ValueError:
        return False
    if len(raw) != SALT_BYTES + hashlib.sha256().digest_size:
        return False
    salt, digest = raw[:SALT_BYTES], raw[SALT_BYTES:]
    expected = hashlib.sha256(salt + password.encode("utf-8")).digest()
    return hmac.compare_digest(expected, digest)
