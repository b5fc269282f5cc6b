"""Every domain string and fixed size of the envelope format, as exact bytes (docs/envelope.md).

Kept in one place so that the spec's "Labels" table and the code cannot drift apart: a test
compares them.
"""

from __future__ import annotations

from typing import Final

FORMAT_VERSION: Final = 1

# Domain strings. Each is used for exactly one purpose; none is a prefix of another.
SIGNATURE_LABEL: Final = b"liaison-v1 envelope signature"  # first PAE part of the signed input
WRAP_LABEL: Final = b"liaison-v1 cek wrap"  # first PAE part of the HPKE info
COMMITMENT_LABEL: Final = b"liaison-v1 key commitment"  # prefix of the commitment's HMAC input

MESSAGE_ID_LEN: Final = 16
CEK_LEN: Final = 32
NONCE_LEN: Final = 24  # XChaCha20-Poly1305
TAG_LEN: Final = 16  # Poly1305, in both the payload AEAD and HPKE's ChaCha20-Poly1305
COMMITMENT_LEN: Final = 32  # HMAC-SHA256
SIGNATURE_LEN: Final = 64  # Ed25519
KEY_ID_LEN: Final = 16  # broker.keys.model.KEY_ID_LEN
WRAPPED_CEK_LEN: Final = CEK_LEN + TAG_LEN
HPKE_IKM_LEN: Final = 32  # RFC 9180 DeriveKeyPair input drawn from rng, suite liaison-v1
MAX_OFFICE_ID_BYTES: Final = 256  # UTF-8 bytes; a sanity bound, the directory defines the syntax
