"""Fresh enquiry and response ids: random (version 4) UUIDs in lower-case canonical form."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable


def new_id(rng: Callable[[int], bytes] = os.urandom) -> str:
    """A new id such as ``3f0c2b9e-8d1a-4c57-9e2f-6a4b1d0c7e55``; ``rng`` gives 16 bytes."""
    return str(uuid.UUID(bytes=rng(16), version=4))
