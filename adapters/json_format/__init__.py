"""The ``json`` partner format: JSON for partners with an HTTP API (see README.md).

Register with ``json = "adapters.json_format:CODEC"`` under ``liaison.adapters``.
"""

from __future__ import annotations

from adapters.json_format.codec import (
    CODEC,
    MAX_INPUT_BYTES,
    MEDIA_TYPE,
    JsonCodec,
    partner_path,
    schema_problems,
)
from adapters.json_format.reading import MAX_DEPTH

__all__ = [
    "CODEC",
    "MAX_DEPTH",
    "MAX_INPUT_BYTES",
    "MEDIA_TYPE",
    "JsonCodec",
    "partner_path",
    "schema_problems",
]
