"""Making a file system change durable: the one helper every file edge shares.

A new or renamed file's name is durable only once its folder is fsynced (POSIX leaves it to the
file system otherwise); the envelope store, the directory state, key files, the spool and the
restore all need that after their rename or link.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(folder: Path) -> None:
    """fsync ``folder`` so the names created or renamed in it survive a crash (OSError as is:
    each caller names what failed in its own error)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
