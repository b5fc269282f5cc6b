"""``liaison keys``: generate and show an office's key pairs."""

from __future__ import annotations

import click


@click.group()
def keys() -> None:
    """Generate and show an office's signing and encryption key pairs."""
