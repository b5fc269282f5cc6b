"""How commands print: rich on a terminal, JSON with ``--json`` (one document on stdout)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.console import Console

F = TypeVar("F", bound=Callable[..., Any])

# Results go to stdout; progress, warnings and errors go to stderr, so `--json | jq` stays clean.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def json_option(func: F) -> F:
    """Add ``--json`` to a command that prints results; the callback receives ``as_json``."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print one JSON document on stdout instead of text, for scripts.",
    )(func)


def emit(data: Any, *, as_json: bool, human: Callable[[Console], None]) -> None:
    """Print ``data`` as JSON, or call ``human`` to render it for a person."""
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n")
    else:
        human(out)
