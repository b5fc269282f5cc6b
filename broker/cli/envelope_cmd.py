"""``liaison seal``, ``liaison open`` and ``liaison verify``: envelopes as files.

These commands read the clock (the core takes ``now`` as a parameter) and keep no replay memory:
an office's daemon does that; a person opening a file by hand is told so.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from broker.cli.keys_cmd import PassphraseSource, passphrase_options
from broker.cli.output import emit, err, json_option
from broker.directory import Directory, TrustState, accept_directory
from broker.directory.store import read_directory_file, read_pinned_root
from broker.envelope import (
    DirectoryView,
    Header,
    Limits,
    Recipient,
    StaticDirectory,
    Suite,
    open_envelope,
    seal,
    verify_envelope,
)
from broker.errors import InputError
from broker.keys.files import is_protected, load_office_keys, load_public_keys
from broker.keys.model import OfficeKeys
from broker.letters import addressees, author, open_message, seal_message
from broker.messages import KIND_NAMES, Message, decode_payload, kind_of, message_from_json

F = TypeVar("F", bound=Callable[..., Any])

MAX_INPUT_BYTES = Limits().max_envelope_bytes


def _read(path: Path, what: str) -> bytes:
    """At most one byte more than an envelope may have: enough for the core to refuse it."""
    try:
        with path.open("rb") as fh:
            return fh.read(MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}") from None


def _directory(public_keys: tuple[Path, ...], own: OfficeKeys | None = None) -> StaticDirectory:
    offices = {p.office_id: p for p in (load_public_keys(path) for path in public_keys)}
    if own is not None:
        offices.setdefault(own.office_id, own.public())
    return StaticDirectory(version=0, offices=offices)


def _load_keys(key_dir: Path, source: PassphraseSource) -> OfficeKeys:
    passphrase = source.read(confirm=False) if is_protected(key_dir) else None
    return load_office_keys(key_dir, passphrase=passphrase)


def header_report(header: Header, digest: bytes) -> dict[str, Any]:
    """An envelope's public metadata, as printed by open and verify."""
    return {
        "message_id": header.message_id.hex(),
        "kind": header.kind.name.lower(),
        "suite": header.suite.value,
        "sender": header.sender,
        "sender_key_id": header.sender_key_id.hex(),
        "recipients": [r.office_id for r in header.recipients],
        "created_at": header.created_at.isoformat(),
        "expires_at": header.expires_at.isoformat(),
        "directory_version": header.directory_version,
        "digest": digest.hex(),
    }


def _header_table(report: dict[str, Any]) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    for key, value in report.items():
        table.add_row(
            key.replace("_", " "), ", ".join(value) if isinstance(value, list) else str(value)
        )
    return table


def trust_options(func: F) -> F:
    """--directory + --root (keys, validity and agreements), or --public-keys (keys only)."""
    func = click.option(
        "--public-keys",
        "public_keys",
        multiple=True,
        type=click.Path(exists=True, path_type=Path),
        metavar="PATH",
        help="Instead of a directory: an office's key folder or public.json (repeat). "
        "Checks signatures only; no agreements, no key windows.",
    )(func)
    func = click.option(
        "--root",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        metavar="ROOT.json",
        help="The pinned root of trust that must have signed the directory.",
    )(func)
    return click.option(
        "--directory",
        "directory_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        metavar="FILE",
        help="The signed trust directory (with --root): keys, their validity, the agreements.",
    )(func)


@dataclass(frozen=True)
class Trust:
    """What the command trusts: the accepted directory, or bare public keys."""

    view: DirectoryView
    directory: Directory | None


def _trust(
    directory_file: Path | None,
    root: Path | None,
    public_keys: tuple[Path, ...],
    now: datetime,
    own: OfficeKeys | None = None,
) -> Trust:
    if directory_file is not None:
        if public_keys:
            raise click.UsageError("give --directory or --public-keys, not both")
        if root is None:
            raise click.UsageError("--directory needs --root (the pinned root of trust)")
        trusted = TrustState.pinned(read_pinned_root(root))
        accepted = accept_directory(read_directory_file(directory_file), trusted, now=now)
        return Trust(accepted.directory, accepted.directory)
    if not public_keys:
        raise click.UsageError("give --directory FILE --root ROOT.json, or --public-keys")
    return Trust(_directory(public_keys, own), None)


@click.command("seal")
@click.argument(
    "message_file", type=click.Path(dir_okay=False, path_type=Path), metavar="MESSAGE.json"
)
@click.option(
    "--from",
    "key_dir",
    required=True,
    type=click.Path(path_type=Path),
    metavar="KEYDIR",
    help="The sending office's key folder (from 'liaison keys generate').",
)
@click.option(
    "--to",
    "to",
    multiple=True,
    metavar="OFFICE",
    help="A recipient office (repeat). Defaults to the enquiry's recipient_offices.",
)
@trust_options
@click.option("--kind", type=click.Choice(sorted(KIND_NAMES)), help="Message kind if not inferred.")
@click.option(
    "--suite",
    type=click.Choice([s.value for s in Suite]),
    help="With --public-keys only (a directory sets each office's suite): liaison-v1 "
    "(default) or liaison-v1-pq, which adds ML-KEM-768 (needs the recipients' hybrid keys).",
)
@click.option(
    "--lifetime-days",
    type=click.IntRange(1, 30),
    default=7,
    show_default=True,
    help="How long the envelope stays valid.",
)
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the envelope here instead of standard output.",
)
@passphrase_options
def seal_command(
    *,
    message_file: Path,
    key_dir: Path,
    to: tuple[str, ...],
    directory_file: Path | None,
    root: Path | None,
    public_keys: tuple[Path, ...],
    kind: str | None,
    suite: str | None,
    lifetime_days: int,
    out: Path | None,
    passphrase_fd: int | None,
    passphrase_env: str | None,
    ask_passphrase: bool,
) -> None:
    """Sign and encrypt a message (canonical JSON) for one or more offices.

    \b
      liaison seal --from keys/hk --directory directory.bin --root root.json \\
                   enquiry.json -o msg.lsn
    \b
    With a directory, the agreements are checked first: an enquiry they do not allow is
    refused (exit 6, naming the rule) before anything is sealed. Only the recipients can read
    the result; anyone with the directory can check who sent it (liaison verify). The message
    id is printed on standard error.
    """
    raw = _read(message_file, "message")
    if len(raw) > MAX_INPUT_BYTES:
        raise InputError(f"{message_file} is larger than {MAX_INPUT_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{message_file} is not UTF-8 text") from None
    message: Message = message_from_json(text, KIND_NAMES[kind] if kind else None)
    sender = _load_keys(key_dir, PassphraseSource(passphrase_fd, passphrase_env, ask_passphrase))
    now = datetime.now(UTC)
    trust = _trust(directory_file, root, public_keys, now, sender)
    if out is None and sys.stdout.isatty():
        raise click.UsageError("an envelope is binary: give -o FILE or redirect standard output")
    lifetime = timedelta(days=lifetime_days)
    if trust.directory is not None:
        if suite is not None:
            raise click.UsageError("--suite goes with --public-keys; the directory sets suites")
        envelope = seal_message(
            message, sender=sender, directory=trust.directory, now=now, to=to, lifetime=lifetime
        )
    else:
        if author(message) != sender.office_id:
            raise InputError(
                f"the message is from {author(message)}, but the keys are {sender.office_id}'s"
            )
        envelope = seal(
            message.to_bytes(),
            kind=kind_of(message),
            sender=sender,
            recipients=_recipients(addressees(message, to), trust, Suite(suite or Suite.V1)),
            directory_version=trust.view.version,
            now=now,
            lifetime=lifetime,
        )
    if out is None:
        sys.stdout.buffer.write(envelope)
        sys.stdout.flush()
    else:
        out.write_bytes(envelope)
    header = verify_envelope(envelope, trust.view).header
    names = ", ".join(r.office_id for r in header.recipients)
    err.print(f"sealed message {header.message_id.hex()} for {names}")


def _recipients(offices: tuple[str, ...], trust: Trust, suite: Suite) -> list[Recipient]:
    known = trust.view.offices if isinstance(trust.view, StaticDirectory) else {}
    missing = [office for office in offices if office not in known]
    if missing:
        raise InputError(f"no public keys for {', '.join(missing)}: add --public-keys for them")
    return [Recipient(office, suite, known[office]) for office in offices]


@click.command("open")
@click.argument(
    "envelope_file", type=click.Path(dir_okay=False, path_type=Path), metavar="ENVELOPE"
)
@click.option(
    "--keys",
    "key_dir",
    required=True,
    type=click.Path(path_type=Path),
    metavar="KEYDIR",
    help="The receiving office's key folder.",
)
@trust_options
@click.option(
    "--at",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S"]),
    help="Judge the validity window as of this time (UTC unless an offset is given) instead of "
    "now: for audits of old envelopes.",
)
@passphrase_options
@json_option
def open_command(
    *,
    envelope_file: Path,
    key_dir: Path,
    directory_file: Path | None,
    root: Path | None,
    public_keys: tuple[Path, ...],
    at: datetime | None,
    passphrase_fd: int | None,
    passphrase_env: str | None,
    ask_passphrase: bool,
    as_json: bool,
) -> None:
    """Verify, decrypt and print an envelope addressed to this office.

    \b
      liaison open --keys keys/vn --directory directory.bin --root root.json msg.lsn
    \b
    Checks the signature, the sender's key at the time it signed, the validity window and that
    this office is a recipient before decrypting; with a directory, also that the agreements
    allow the message. The message is printed as canonical JSON on standard output, the
    envelope's metadata on standard error. Exits 10 if the envelope is rejected (reason named).
    """
    data = _read(envelope_file, "envelope")
    keys = _load_keys(key_dir, PassphraseSource(passphrase_fd, passphrase_env, ask_passphrase))
    now = datetime.now(UTC) if at is None else (at if at.tzinfo else at.replace(tzinfo=UTC))
    trust = _trust(directory_file, root, public_keys, now, keys)
    if trust.directory is not None:
        letter = open_message(data, keys=keys, directory=trust.directory, now=now)
        opened, message = letter.opened, letter.message
    else:
        opened = open_envelope(data, keys, trust.view, now=now)
        message = decode_payload(opened.header.kind, opened.payload)
    report = header_report(opened.header, opened.digest)
    if as_json:
        emit(
            {"envelope": report, "message": json.loads(message.to_json())},
            as_json=True,
            human=_nothing,
        )
        return
    err.print(_header_table(report))
    err.print("(no replay memory here: the office daemon rejects a message seen before)")
    sys.stdout.write(message.to_json() + "\n")


@click.command("verify")
@click.argument(
    "envelope_file", type=click.Path(dir_okay=False, path_type=Path), metavar="ENVELOPE"
)
@trust_options
@json_option
def verify_command(
    *,
    envelope_file: Path,
    directory_file: Path | None,
    root: Path | None,
    public_keys: tuple[Path, ...],
    as_json: bool,
) -> None:
    """Check an envelope's signature and header with public keys only.

    \b
      liaison verify --directory directory.bin --root root.json msg.lsn
    \b
    Needs no private key and decrypts nothing: what the hub or an auditor can check. The key is
    judged at the envelope's creation time, so an old envelope still verifies after its key was
    rotated, while one signed after a revocation does not. Exits 0 when it verifies, 10 when it
    does not (with the reason).
    """
    data = _read(envelope_file, "envelope")
    trust = _trust(directory_file, root, public_keys, datetime.now(UTC))
    verified = verify_envelope(data, trust.view)
    report = header_report(verified.header, verified.digest)

    def human(console: Console) -> None:
        console.print(f"valid envelope from {verified.header.sender}")
        console.print(_header_table(report))

    emit(report, as_json=as_json, human=human)


def _nothing(console: Console) -> None:
    """--json printed everything."""
