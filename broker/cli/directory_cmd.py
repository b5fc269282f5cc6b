"""``liaison directory``: build, sign, verify, show and diff the signed trust directory.

Composition only: the rules live in ``broker.directory`` (pure) and the files in
``broker.directory.store``. This module reads the clock (``--at`` defaults to now).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table

from broker.cli.keys_cmd import PassphraseSource, passphrase_options
from broker.cli.output import emit, json_option
from broker.directory import (
    Directory,
    DirectoryContent,
    TrustState,
    accept_chain,
    add_signature,
    build_unsigned,
    compile_source,
    decode_signed,
    diff_contents,
    render_source,
)
from broker.directory.anchors import root_document
from broker.directory.diff import when
from broker.directory.model import KeyStatus, Office
from broker.directory.report import content_document, iso, office_document
from broker.directory.store import (
    read_directory_file,
    read_pinned_root,
    read_source_file,
    read_state,
    write_file,
    write_pinned_root,
)
from broker.directory.vocabulary import KeyUse, enquiry_type_name, priority_name
from broker.errors import InputError
from broker.keys.files import is_protected, load_office_keys
from broker.keys.model import KeyAlg, fingerprint
from broker.model.codes import EnquiryType

EXPIRY_WARNING = timedelta(days=60)  # verify warns when the directory expires sooner

FILE = click.Path(path_type=Path, dir_okay=False)


class TimeParam(click.ParamType[datetime]):
    """An ISO 8601 time; without an offset it is read as UTC, a bare date as its midnight UTC."""

    name = "TIME"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            self.fail(f"{value!r} is not a time like 2026-11-01T09:00:00Z", param, ctx)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@click.group()
def directory() -> None:
    """Build, sign, verify, show and diff the signed trust directory.

    \b
    The directory lists the partner offices, their keys and the agreements between them. The
    administrators compile it from a TOML source and sign it in turn; every office accepts it
    only with a threshold of trusted signatures, never an older version, never expired:
      liaison directory build directory.toml -o directory.bin
      liaison directory sign directory.bin --key admin-keys/ --ask-passphrase   (each admin)
      liaison directory diff old.bin directory.bin                              (review)
      liaison directory verify directory.bin --root root.json
      liaison directory root directory.bin -o root.json          (the pinned root, once)

    The formats and rules are in docs/directory.md; demo material is in keys/example/.
    """


@directory.command(short_help="Compile a TOML source into an unsigned directory.")
@click.argument("source", type=FILE)
@click.option("-o", "--out", required=True, type=FILE, help="The unsigned directory to write.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
@json_option
def build(*, source: Path, out: Path, force: bool, as_json: bool) -> None:
    """Compile a TOML source into an unsigned directory (then each administrator signs it).

    Every problem in the source is listed with its place, e.g.
    offices[3].keys.signing[0].not_after: must be later than not_before.
    """
    data = build_unsigned(read_source_file(source), name=str(source))
    write_file(out, data, force=force)
    content = Directory.decode(decode_signed(data).content).content
    report = _summary(content) | {"file": str(out), "signatures": 0}

    def human(console: Console) -> None:
        console.print(f"Built {out}: {_headline(content)}")
        console.print(
            f"Not signed yet: {content.root.threshold} of {len(content.root.keys)}"
            " administrators must now run 'liaison directory sign'."
        )

    emit(report, as_json=as_json, human=human)


@directory.command(short_help="Add this administrator's signature to a directory.")
@click.argument("file", type=FILE)
@click.option(
    "--key",
    "key_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="The administrator's key folder (made by 'liaison keys generate').",
)
@click.option("-o", "--out", type=FILE, help="Write the signed directory here (default: FILE).")
@passphrase_options
@json_option
def sign(
    *,
    file: Path,
    key_dir: Path,
    out: Path | None,
    passphrase_fd: int | None,
    passphrase_env: str | None,
    ask_passphrase: bool,
    as_json: bool,
) -> None:
    """Add this administrator's signature to a directory (the content is not changed).

    \b
    An administrator key is an ordinary key folder; only its Ed25519 signing key is used:
      liaison keys generate --office DIR-ADMIN-WANG --out admin-keys/ --ask-passphrase
      liaison directory sign directory.bin --key admin-keys/ --ask-passphrase

    Review the content first ('liaison directory show' and 'diff'): a signature vouches for it.
    """
    source = PassphraseSource(passphrase_fd, passphrase_env, ask_passphrase)
    signed = read_directory_file(file)
    content = Directory.decode(decode_signed(signed).content).content
    passphrase = source.read(confirm=False) if is_protected(key_dir) else None
    admin = load_office_keys(key_dir, passphrase=passphrase)
    result = add_signature(signed, admin.signing)
    target = out or file
    write_file(target, result, force=out is None)
    public = admin.public().signing
    listed = content.root.key(admin.public().signing_key_id)
    count = len(decode_signed(result).signatures)
    report = _summary(content) | {
        "file": str(target),
        "signed_by": admin.office_id,
        "fingerprint": fingerprint(KeyAlg.ED25519, public),
        "in_root": listed is not None,
        "signatures": count,
    }

    def human(console: Console) -> None:
        console.print(
            f"Signed {target} (version {content.version}) with {admin.office_id}"
            f" ({report['fingerprint']}); it now has {count} signature(s),"
            f" {content.root.threshold} needed."
        )
        if listed is None:
            console.print(
                "Note: this key is not in the directory's root; its signature counts only"
                " towards a root rotation from a root that lists it."
            )

    emit(report, as_json=as_json, human=human)


@directory.command(short_help="Check a signed directory as an office would.")
@click.argument("files", nargs=-1, required=True, type=FILE)
@click.option("--root", type=FILE, help="The pinned root (JSON from 'liaison directory root').")
@click.option(
    "--state",
    type=click.Path(path_type=Path, file_okay=False),
    help="An office's data folder: check against what it accepted last (rollback).",
)
@click.option("--at", type=TimeParam(), help="Check as at this time (default: now).")
@json_option
def verify(
    *,
    files: tuple[Path, ...],
    root: Path | None,
    state: Path | None,
    at: datetime | None,
    as_json: bool,
) -> None:
    """Check a signed directory as an office would, without changing anything.

    \b
    In order: size, a threshold of signatures by the trusted root (the pinned root, or with
    --state the root last accepted), a root rotation signed by old and new administrators,
    no older version than accepted before, not expired. Several FILES are checked in turn,
    each trusted by the one before (to catch up across a root rotation).
      liaison directory verify directory.bin --root root.json
      liaison directory verify directory.bin --state data/ --at 2027-01-01

    Exits 0 when accepted, 30 when refused (the message names the rule).
    """
    now = at or datetime.now(UTC)
    trusted = read_state(state) if state is not None else None
    if trusted is None:
        if root is None:
            raise click.UsageError("give --root (or --state with an accepted directory)")
        trusted = TrustState.pinned(read_pinned_root(root))
    accepted = accept_chain([read_directory_file(path) for path in files], trusted, now=now)
    found = accepted.directory
    left = found.expires_at - now
    report = _summary(found.content) | {
        "accepted": True,
        "at": iso(now),
        "signers": list(accepted.signers),
        "root_rotated": accepted.root_rotated,
        "signatures_not_counted": accepted.not_counted,
        "expires_in_days": left.days,
    }

    def human(console: Console) -> None:
        console.print(f"[bold]Accepted[/] {files[-1]}: {_headline(found.content)}")
        console.print(f"Signed by {', '.join(accepted.signers)}.")
        if accepted.root_rotated:
            console.print("The root changes with this directory (signed by old and new).")
        if accepted.not_counted:
            console.print(f"{accepted.not_counted} signature(s) by keys outside the root.")
        if left < EXPIRY_WARNING:
            console.print(f"[bold yellow]Warning:[/] it expires in {left.days} days; re-sign it.")

    emit(report, as_json=as_json, human=human)


@directory.command(short_help="Show what a directory holds (without verifying it).")
@click.argument("file", type=FILE)
@click.option("--office", "office_id", metavar="ID", help="Show one office in detail.")
@click.option("--source", "as_source", is_flag=True, help="Print the content as TOML source.")
@click.option("--at", type=TimeParam(), help="Key status at this time (default: now).")
@json_option
def show(
    *, file: Path, office_id: str | None, as_source: bool, at: datetime | None, as_json: bool
) -> None:
    """Show what a directory holds (read as is: use 'verify' to know whether to trust it).

    \b
      liaison directory show directory.bin                   offices, agreements, root
      liaison directory show directory.bin --office DE-BKA   one office and its keys
      liaison directory show directory.bin --source          the TOML to edit for the next one
    """
    now = at or datetime.now(UTC)
    parts = decode_signed(read_directory_file(file))
    content = Directory.decode(parts.content).content
    if as_source:
        click.echo(render_source(content), nl=False)
        return
    if office_id is not None:
        office = next((o for o in content.offices if o.id == office_id), None)
        if office is None:
            raise InputError(f"office {office_id} is not in {file}")
        emit(office_document(office, at=now), as_json=as_json, human=_office_view(office, now))
        return
    names = {admin.key_id: admin.name for admin in content.root.keys}
    signatures = [{"key_id": s.key_id.hex(), "name": names.get(s.key_id)} for s in parts.signatures]
    report = content_document(content, at=now) | {"signatures": signatures}

    def human(console: Console) -> None:
        console.print(f"{file}: {_headline(content)}")
        console.print(f"Issuer: {content.issuer}")
        signed_by = ", ".join(str(s["name"] or s["key_id"]) for s in signatures) or "nobody yet"
        console.print(
            f"Root: {content.root.threshold} of {len(content.root.keys)} administrators must"
            f" sign; signatures present (not verified here): {signed_by}."
        )
        console.print(_offices_table(content, now))
        _print_agreements(console, content)

    emit(report, as_json=as_json, human=human)


@directory.command(short_help="Say in plain words what changes from OLD to NEW.")
@click.argument("old", type=FILE)
@click.argument("new", type=FILE)
@json_option
def diff(*, old: Path, new: Path, as_json: bool) -> None:
    """Say what changes from OLD to NEW, in plain words, for the administrators' review.

    Each may be a directory (signed or not) or a TOML source. Lists added and removed offices
    and keys, revocations, agreement changes and root or threshold changes.
    """
    changes = diff_contents(_content(old), _content(new))
    report = [{"kind": c.kind, "subject": c.subject, "text": c.text} for c in changes]

    def human(console: Console) -> None:
        if not changes:
            console.print("No differences.")
        for change in changes:
            console.print(f"- {change.text}", markup=False)

    emit(report, as_json=as_json, human=human)


@directory.command(short_help="Write a directory's root as a pinned root file.")
@click.argument("file", type=FILE)
@click.option("-o", "--out", required=True, type=FILE, help="The pinned root file to write.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
@json_option
def root(*, file: Path, out: Path, force: bool, as_json: bool) -> None:
    """Write the root of a directory (administrators' keys, threshold) as a pinned root file.

    An office installs the pinned root once (office.toml: directory.pinned_root) and trusts
    only directories it signs, or roots it rotated to. Compare the fingerprints below with the
    administrators by phone before installing it.
    """
    content = Directory.decode(decode_signed(read_directory_file(file)).content).content
    write_pinned_root(out, content.root, force=force)
    document = root_document(content.root)

    def human(console: Console) -> None:
        console.print(
            f"Wrote {out}: {content.root.threshold} of {len(content.root.keys)} administrators."
        )
        for admin in content.root.keys:
            console.print(f"  {admin.name:<24} {admin.fingerprint}")

    emit(document | {"file": str(out)}, as_json=as_json, human=human)


# ---------------------------------------------------------------- helpers


def _content(path: Path) -> DirectoryContent:
    """A directory file's content, or a TOML source compiled."""
    if path.suffix == ".toml":
        return compile_source(read_source_file(path), name=str(path))
    return Directory.decode(decode_signed(read_directory_file(path)).content).content


def _summary(content: DirectoryContent) -> dict[str, Any]:
    return {
        "version": content.version,
        "issued_at": iso(content.issued_at),
        "expires_at": iso(content.expires_at),
        "offices": len(content.offices),
        "agreements": len(content.agreements),
    }


def _headline(content: DirectoryContent) -> str:
    return (
        f"version {content.version}, {len(content.offices)} offices,"
        f" {len(content.agreements)} agreements, issued {when(content.issued_at)},"
        f" expires {when(content.expires_at)}"
    )


def _offices_table(content: DirectoryContent, now: datetime) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, title="Offices")
    for column in ("office", "name", "country", "suite", "valid keys now"):
        table.add_column(column)
    for office in content.offices:
        valid = [k for k in office.keys if k.status_at(now) is KeyStatus.VALID]
        counts = ", ".join(
            f"{sum(1 for k in valid if k.use is use)} {use.label}"
            for use in KeyUse
            if office.keys_of(use)
        )
        table.add_row(office.id, office.display_name(), office.country, office.suite, counts)
    return table


def _print_agreements(console: Console, content: DirectoryContent) -> None:
    console.print("[bold]Agreements[/]")
    every_type = len(EnquiryType)
    for agreement in content.agreements:
        types = (
            f"all {every_type}"
            if len(agreement.enquiry_types) == every_type
            else ", ".join(enquiry_type_name(t) for t in agreement.enquiry_types)
        )
        until = f" until {when(agreement.valid_until)}" if agreement.valid_until else ", open-ended"
        lines = [
            f"{agreement.id}  {agreement.title}",
            f"    parties: {', '.join(agreement.parties)}",
            f"    enquiry types: {types}",
            (
                f"    handling {', '.join(h.name for h in agreement.handling_codes)};"
                f" priority up to {priority_name(agreement.max_priority)}; attachments"
                f" {'allowed' if agreement.attachments_allowed else 'not allowed'};"
                f" data categories: {', '.join(agreement.data_categories) or 'none'}"
            ),
            f"    in force from {when(agreement.valid_from)}{until}",
        ]
        for line in lines:
            console.print(line, markup=False)


def _office_view(office: Office, now: datetime) -> Callable[[Console], None]:
    def human(console: Console) -> None:
        console.print(f"[bold]{office.id}[/]  {office.display_name()}")
        for language, name in office.names:
            console.print(f"  {language}: {name}", markup=False)
        console.print(
            f"Country {office.country}, time zone {office.time_zone}, languages"
            f" {', '.join(office.languages)}, suite {office.suite.value}"
        )
        console.print(
            f"Adapter {office.adapter.name}; routing site {office.routing.site},"
            f" broker {office.routing.broker}; urgent contact: {office.urgent_contact}",
            markup=False,
        )
        console.print(f"Keys, status at {when(now)}:")
        for key in office.keys:
            status = key.status_at(now).value
            if key.revocation is not None:
                status += f" (revoked {when(key.revocation.revoked_at)}, {key.revocation.reason})"
            console.print(
                f"  {key.use.label:<10} {key.fingerprint}  {when(key.not_before)} to"
                f" {when(key.not_after)}  {status}",
                markup=False,
            )

    return human
