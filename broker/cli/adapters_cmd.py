"""``liaison adapters``: list the partner formats, and encode, decode or check a partner file.

Composition only: the codecs live in ``adapters/`` and are found through the ``liaison.adapters``
entry points (``adapters.base``). Losses and warnings go to stderr so stdout stays one document.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from adapters.base import AdapterInputError, Loss, available, load
from broker.cli.output import emit, err, json_option
from broker.errors import InputError, NotAvailable
from broker.messages import message_from_json

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group("adapters")
def adapters() -> None:
    """Partner formats: list the registered adapters, and turn canonical JSON messages into a
    partner's format and back (`encode`, `decode`), or check a partner's file (`check`)."""


@adapters.command("list")
@json_option
def list_adapters(as_json: bool) -> None:
    """List registered adapters; a plugin that fails to load is listed with its error."""
    rows: list[dict[str, Any]] = []
    for name, source in sorted(available().items()):
        try:
            codec = load(name)
        except NotAvailable as exc:
            rows.append({"name": name, "source": source, "error": str(exc)})
            continue
        rows.append(
            {
                "name": name,
                "source": source,
                "description": codec.description,
                "suffixes": list(codec.suffixes),
                "max_input_bytes": codec.max_input_bytes,
            }
        )

    def human(console: Any) -> None:
        if not rows:
            console.print("no adapters registered")
        for row in rows:
            if "error" in row:
                console.print(f"{row['name']}  [red]unavailable[/red]: {row['error']}")
            else:
                suffixes = " ".join(row["suffixes"])
                console.print(f"{row['name']}  {suffixes}  {row['description']}")

    emit(rows, as_json=as_json, human=human)


@adapters.command("encode")
@click.argument("name")
@click.argument("message", type=_FILE)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here.")
@click.option("--variant", default=None, help="One of the format's forms (e.g. csv, compact).")
def encode(name: str, message: Path, output: Path | None, variant: str | None) -> None:
    """Turn a canonical JSON MESSAGE into adapter NAME's format (stdout unless -o)."""
    codec = load(name)
    canonical = message_from_json(_read_text(message))
    encoded = codec.encode(canonical, variant=variant)
    _print_losses(encoded.losses)
    if output is None:
        sys.stdout.buffer.write(encoded.data)
        sys.stdout.flush()
    else:
        output.write_bytes(encoded.data)
        err.print(f"wrote {output} ({len(encoded.data)} bytes, {encoded.media_type})")


@adapters.command("decode")
@click.argument("name")
@click.argument("file", type=_FILE)
@json_option
def decode(name: str, file: Path, as_json: bool) -> None:
    """Turn a partner FILE in adapter NAME's format into canonical JSON on stdout.

    The canonical JSON is printed either way; ``--json`` wraps it with the losses and warnings.
    """
    codec = load(name)
    decoded = codec.decode(_read_bytes(file, codec.max_input_bytes), suffix=file.suffix or None)
    canonical = json.loads(decoded.message.to_json())
    if as_json:
        document = {
            "message": canonical,
            "losses": [_loss_json(loss) for loss in decoded.losses],
            "warnings": list(decoded.warnings),
        }
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
        return
    _print_losses(decoded.losses)
    for warning in decoded.warnings:
        err.print(f"warning: {warning}", markup=False)
    sys.stdout.write(decoded.message.to_json() + "\n")


@adapters.command("check")
@click.argument("name")
@click.argument("file", type=_FILE)
def check(name: str, file: Path) -> None:
    """Check that a partner FILE decodes under adapter NAME; exit 5 naming every problem."""
    codec = load(name)
    decoded = codec.decode(_read_bytes(file, codec.max_input_bytes), suffix=file.suffix or None)
    _print_losses(decoded.losses)
    for warning in decoded.warnings:
        err.print(f"warning: {warning}", markup=False)
    click.echo(f"{file.name}: valid {type(decoded.message).__name__}")


def _read_bytes(path: Path, limit: int) -> bytes:
    # Read one byte past the limit so the codec refuses an oversized file without us loading it all.
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise AdapterInputError("file", f"is larger than the {limit}-byte limit")
    return data


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path.name} is not UTF-8 text") from None


def _loss_json(loss: Loss) -> dict[str, Any]:
    return {"field": loss.field, "reason": loss.reason, "essential": loss.essential}


def _print_losses(losses: tuple[Loss, ...]) -> None:
    for loss in losses:
        mark = "essential " if loss.essential else ""
        err.print(f"{mark}loss: {loss.field}: {loss.reason}", markup=False)
