"""``liaison seal``, ``liaison open`` and ``liaison verify``: envelopes as files.

These commands read the clock (the core takes ``now`` as a parameter) and keep no replay memory:
an office's daemon does that; a person opening a file by hand is told so.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from broker.cli.keys_cmd import PassphraseSource, passphrase_options
from broker.cli.output import emit, err, json_option
from broker.envelope import (
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
from broker.messages import KIND_NAMES, Message, decode_payload, kind_of, message_from_json
from broker.model import CaseEnquiry

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
    return StaticDirectory(version=1, offices=offices)


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


PUBLIC_KEYS = click.option(
    "--public-keys",
    "public_keys",
    multiple=True,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    metavar="PATH",
    help="A partner's key folder or public.json (repeat for each office involved). "
    "Stands in for the signed directory.",
)


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
@PUBLIC_KEYS
@click.option("--kind", type=click.Choice(sorted(KIND_NAMES)), help="Message kind if not inferred.")
@click.option(
    "--suite",
    type=click.Choice([s.value for s in Suite]),
    default=Suite.V1.value,
    show_default=True,
    help="liaison-v1-pq adds ML-KEM-768 for every recipient (needs their hybrid keys).",
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
    public_keys: tuple[Path, ...],
    kind: str | None,
    suite: str,
    lifetime_days: int,
    out: Path | None,
    passphrase_fd: int | None,
    passphrase_env: str | None,
    ask_passphrase: bool,
) -> None:
    """Sign and encrypt a message (canonical JSON) for one or more offices.

    \b
      liaison seal --from keys/hk --public-keys partners/vn enquiry.json -o msg.lsn
    \b
    Only the recipients can read the result; anyone with the sender's public key can check who
    sent it (liaison verify). The message id is printed on standard error.
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
    directory = _directory(public_keys, sender)
    recipients = _recipients(message, to, directory, sender, Suite(suite))
    if out is None and sys.stdout.isatty():
        raise click.UsageError("an envelope is binary: give -o FILE or redirect standard output")
    envelope = seal(
        message.to_bytes(),
        kind=kind_of(message),
        sender=sender,
        recipients=recipients,
        directory_version=directory.version,
        now=datetime.now(UTC),
        lifetime=timedelta(days=lifetime_days),
    )
    if out is None:
        sys.stdout.buffer.write(envelope)
        sys.stdout.flush()
    else:
        out.write_bytes(envelope)
    message_id = verify_envelope(envelope, directory).header.message_id.hex()
    err.print(f"sealed message {message_id} for {', '.join(r.office_id for r in recipients)}")


def _recipients(
    message: Message,
    to: tuple[str, ...],
    directory: StaticDirectory,
    sender: OfficeKeys,
    suite: Suite,
) -> list[Recipient]:
    if isinstance(message, CaseEnquiry):
        if message.requesting_office != sender.office_id:
            raise InputError(
                f"the enquiry is from {message.requesting_office}, but the keys are "
                f"{sender.office_id}'s"
            )
        addressed = message.recipient_offices
        if to and sorted(set(to)) != sorted(set(addressed)):
            raise InputError(
                f"--to names {', '.join(to)} but the enquiry is addressed to {', '.join(addressed)}"
            )
        to = to or addressed
    if not to:
        raise click.UsageError("name at least one recipient with --to")
    missing = [office for office in to if office not in directory.offices]
    if missing:
        raise InputError(f"no public keys for {', '.join(missing)}: add --public-keys for them")
    return [Recipient(office, suite, directory.offices[office]) for office in dict.fromkeys(to)]


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
@PUBLIC_KEYS
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
    public_keys: tuple[Path, ...],
    at: datetime | None,
    passphrase_fd: int | None,
    passphrase_env: str | None,
    ask_passphrase: bool,
    as_json: bool,
) -> None:
    """Verify, decrypt and print an envelope addressed to this office.

    \b
      liaison open --keys keys/vn --public-keys partners/hk msg.lsn > enquiry.json
    \b
    Checks the signature, the sender's key, the validity window and that this office is a
    recipient before decrypting. The message is printed as canonical JSON on standard output,
    the envelope's metadata on standard error. Exits 10 if the envelope is rejected.
    """
    data = _read(envelope_file, "envelope")
    keys = _load_keys(key_dir, PassphraseSource(passphrase_fd, passphrase_env, ask_passphrase))
    now = datetime.now(UTC) if at is None else (at if at.tzinfo else at.replace(tzinfo=UTC))
    opened = open_envelope(data, keys, _directory(public_keys, keys), now=now)
    message = decode_payload(opened.header.kind, opened.payload)
    report = header_report(opened.header, opened.digest)
    if as_json:
        emit({"envelope": report, "message": _json_value(message)}, as_json=True, human=_nothing)
        return
    err.print(_header_table(report))
    err.print("(no replay memory here: the office daemon rejects a message seen before)")
    sys.stdout.write(message.to_json() + "\n")


@click.command("verify")
@click.argument(
    "envelope_file", type=click.Path(dir_okay=False, path_type=Path), metavar="ENVELOPE"
)
@PUBLIC_KEYS
@json_option
def verify_command(envelope_file: Path, public_keys: tuple[Path, ...], as_json: bool) -> None:
    """Check an envelope's signature and header with public keys only.

    \b
      liaison verify --public-keys partners/hk msg.lsn
    \b
    Needs no private key and decrypts nothing: what the hub or an auditor can check. The key is
    judged at the envelope's creation time, so an old envelope still verifies after its key was
    rotated. Exits 0 when it verifies, 10 when it does not (with the reason).
    """
    data = _read(envelope_file, "envelope")
    verified = verify_envelope(data, _directory(public_keys))
    report = header_report(verified.header, verified.digest)

    def human(console: Console) -> None:
        console.print(f"valid envelope from {verified.header.sender}")
        console.print(_header_table(report))

    emit(report, as_json=as_json, human=human)


def _json_value(message: Message) -> Any:
    import json  # noqa: PLC0415 - only for --json

    return json.loads(message.to_json())


def _nothing(console: Console) -> None:
    """--json printed everything."""
