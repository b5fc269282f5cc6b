"""``liaison audit``: verify, prove, check proofs, replay and reconcile exchange logs.

Composition only: the checks live in ``broker.exchange_log`` and ``broker.ledger``. Verifying
needs public keys only (a directory with its pinned root, public key files, or the log's
verifier key). This module reads the clock (decryption entries, ``reconcile --now``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from broker.cli.keys_cmd import PassphraseSource, passphrase_options
from broker.cli.output import emit, err, json_option
from broker.directory import Directory, TrustState, accept_chain, decode_signed
from broker.directory.store import read_directory_file, read_pinned_root
from broker.envelope import DirectoryView, StaticDirectory
from broker.errors import InputError, IntegrityError
from broker.exchange_log import (
    DEFAULT_NETWORK,
    DirectoryLogKeys,
    EnvelopeStore,
    ExchangeLog,
    FixedLogKey,
    LogEntry,
    LogKeys,
    decode_entry,
    log_verifier,
    store_beside,
)
from broker.exchange_log.reconcile import reconcile as reconcile_logs
from broker.exchange_log.replay import (
    ReplayFilter,
    decrypt_for_audit,
    entry_to_json,
    render_payload,
    select_entries,
)
from broker.exchange_log.verify import verify_log
from broker.keys.files import load_office_keys, load_public_keys
from broker.ledger import (
    check_consistency_proof,
    check_inclusion_proof,
    leaf_hash,
    open_checkpoint,
    parse_inclusion_proof,
    parse_verifier_key,
)
from broker.ledger.proof_text import CONSISTENCY_PROOF_HEADER, TLOG_PROOF_HEADER

FILE = click.Path(path_type=Path, dir_okay=False)
FOLDER = click.Path(path_type=Path, file_okay=False)
ANY_PATH = click.Path(path_type=Path)
MAX_PROOF_FILE = 2 * 1024 * 1024


class TimeParam(click.ParamType[datetime]):
    """An ISO 8601 time; without an offset it is read as UTC."""

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


def _directory_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--public-keys",
        "public_keys",
        multiple=True,
        type=ANY_PATH,
        help="An office's public keys (a key folder or its public.json); repeat for each office.",
    )(func)
    func = click.option(
        "--root", type=FILE, help="The directory's pinned root (with --directory)."
    )(func)
    return click.option(
        "--directory",
        "directory_files",
        multiple=True,
        type=FILE,
        help="The signed directory (repeat, oldest first, to follow a root rotation).",
    )(func)


def _load_directory(
    files: tuple[Path, ...], root: Path | None, public_keys: tuple[Path, ...]
) -> DirectoryView | None:
    """The directory given on the command line, if any: signed (checked) or public key files."""
    if files and public_keys:
        raise click.UsageError("give --directory or --public-keys, not both")
    if public_keys:
        return StaticDirectory.of(0, [load_public_keys(path) for path in public_keys])
    if not files:
        return None
    if root is None:
        raise click.UsageError("--directory needs --root, the pinned root it is trusted by")
    chain = [read_directory_file(path) for path in files]
    # Audits look back: every rule is applied except freshness, so the directory is judged as
    # at its own issue time (an expired directory still says which key was valid when).
    issued = Directory.decode(decode_signed(chain[-1]).content).issued_at
    return accept_chain(chain, TrustState.pinned(read_pinned_root(root)), now=issued).directory


@click.group()
def audit() -> None:
    """Verify, replay and reconcile the tamper-evident exchange log.

    \b
      liaison audit verify data/exchange-log.db --public-keys keys/    structure and checkpoints
      liaison audit verify LOG --directory directory.bin --root root.json --full
      liaison audit prove LOG --inclusion 1234 > entry-1234.tlog-proof
      liaison audit check-proof entry-1234.tlog-proof --key VKEY --origin ORIGIN --entry FILE
      liaison audit replay LOG --case CN-2026-0042                   the timeline of a case
      liaison audit reconcile office-a.db office-b.db               two offices' records

    Verification needs public keys only; decryption for an audit is itself logged before any
    content is shown. Exit 30 when a problem is found. Formats: docs/exchange-log.md.
    """


# ---------------------------------------------------------------- verify


def _log_keys(directory: DirectoryView | None, log_key: str | None, needed_for: str) -> LogKeys:
    if log_key is not None:
        return FixedLogKey(parse_verifier_key(log_key))
    if directory is None:
        raise click.UsageError(f"{needed_for} needs --public-keys, --directory or --log-key")
    return DirectoryLogKeys(directory)


def _progress_bar() -> tuple[Progress | None, Callable[[int, int], None] | None]:
    if not err.is_terminal:
        return None, None
    bar = Progress(
        TextColumn("verifying"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} entries"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    tasks: list[TaskID] = []

    def update(done: int, total: int) -> None:
        if not tasks:  # the total is known from the first report on
            tasks.append(bar.add_task("verify", total=total))
            bar.start()
        bar.update(tasks[0], completed=done, total=total)

    return bar, update


@audit.command(short_help="Check a log: entries, tree, checkpoints (and envelopes with --full).")
@click.argument("log", type=FILE)
@_directory_options
@click.option("--log-key", metavar="VKEY", help="The log's verifier key (from 'audit key').")
@click.option("--envelopes", type=FOLDER, help="The envelope store (default: envelopes/ beside).")
@click.option("--full", is_flag=True, help="Also check every stored envelope's signature.")
@click.option("--workers", type=click.IntRange(min=1), help="Processes to use (default: cores).")
@json_option
def verify(
    *,
    log: Path,
    directory_files: tuple[Path, ...],
    root: Path | None,
    public_keys: tuple[Path, ...],
    log_key: str | None,
    envelopes: Path | None,
    full: bool,
    workers: int | None,
    as_json: bool,
) -> None:
    """Check an exchange log with public keys only, and report every problem found.

    \b
    Re-derives every entry's leaf hash and the whole Merkle tree, compares the stored tree,
    opens every stored checkpoint with the office's log key, compares its root with the
    entries' root at its size and checks its consistency with the next one, and looks for
    forks. --full also checks that every envelope an entry names is stored (or purged),
    hashes to its name and is signed by its sender as the directory listed the key then.
    Every problem names its place: entry index, checkpoint size or envelope digest.

    Exits 0 when clean, 30 when a problem was found.
    """
    directory = _load_directory(directory_files, root, public_keys)
    keys = _log_keys(directory, log_key, "verify")
    if full and directory is None:
        raise click.UsageError("--full needs --directory or --public-keys")
    bar, progress = _progress_bar()
    try:
        report = verify_log(
            log,
            log_keys=keys,
            directory=directory,
            envelopes=envelopes or store_beside(log),
            full=full,
            workers=workers,
            progress=progress,
        )
    finally:
        if bar is not None:
            bar.stop()

    def human(console: Console) -> None:
        for problem in report.problems:
            console.print(f"[red]{problem.code.value}[/] {problem.location()}: {problem.message}")
        colour = "green" if report.ok else "red"
        console.print(f"[bold {colour}]{report.summary()}[/] ({report.seconds:.1f} s)")

    emit(report.to_json(), as_json=as_json, human=human)
    if not report.ok:
        raise IntegrityError(f"{len(report.problems)} problem(s) found in {log}")


# ---------------------------------------------------------------- proofs


@audit.command(short_help="Print an inclusion or consistency proof against a stored checkpoint.")
@click.argument("log", type=FILE)
@click.option("--inclusion", "index", type=click.IntRange(min=0), metavar="INDEX")
@click.option("--consistency", nargs=2, type=click.IntRange(min=1), metavar="OLD NEW")
@click.option("-o", "--out", type=FILE, help="Write the proof file here instead of stdout.")
def prove(
    *, log: Path, index: int | None, consistency: tuple[int, int] | None, out: Path | None
) -> None:
    """Print a proof file (docs/exchange-log.md, "Proof files").

    \b
      --inclusion INDEX      a C2SP tlog-proof that entry INDEX is in the latest checkpoint
      --consistency OLD NEW  that the stored checkpoint of size NEW extends the tree of size OLD
    Both embed the signed checkpoint, so 'audit check-proof' needs no database.
    """
    if (index is None) == (consistency is None):
        raise click.UsageError("give exactly one of --inclusion and --consistency")
    with ExchangeLog.open_existing(log) as opened:
        if index is not None:
            proof = opened.prove_inclusion(index)
        else:
            assert consistency is not None  # noqa: S101 - one of the two was given
            proof = opened.prove_consistency(*consistency)
    if out is None:
        sys.stdout.buffer.write(proof)
        sys.stdout.flush()
    else:
        try:
            out.write_bytes(proof)
        except OSError as exc:
            raise InputError(f"cannot write {out}: {exc.strerror}") from None


def _read(path: Path, what: str, limit: int = MAX_PROOF_FILE) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}") from None
    if len(data) > limit:
        raise InputError(f"{what} {path} is larger than {limit} bytes")
    return data


def _leaf(leaf_hash_hex: str | None, entry: Path | None) -> bytes:
    if entry is not None:
        return leaf_hash(_read(entry, "entry file"))
    assert leaf_hash_hex is not None  # noqa: S101 - checked by the caller
    try:
        value = bytes.fromhex(leaf_hash_hex)
    except ValueError:
        value = b""
    if len(value) != 32:
        raise InputError("--leaf-hash must be 64 hex digits (SHA-256(0x00 || entry))")
    return value


@audit.command("check-proof", short_help="Verify a proof file with a log's public key only.")
@click.argument("proof", type=FILE)
@click.option("--key", "vkey", required=True, metavar="VKEY", help="The log's verifier key.")
@click.option("--origin", required=True, help="The log's origin, e.g. liaison.example/log/ID.")
@click.option("--leaf-hash", "leaf_hash_hex", metavar="HEX", help="Inclusion: the leaf hash.")
@click.option("--entry", type=FILE, help="Inclusion: the entry's exact bytes (hashed here).")
@click.option("--old", type=FILE, help="Consistency: the older signed checkpoint.")
@json_option
def check_proof(
    *,
    proof: Path,
    vkey: str,
    origin: str,
    leaf_hash_hex: str | None,
    entry: Path | None,
    old: Path | None,
    as_json: bool,
) -> None:
    """Verify an inclusion proof (C2SP tlog-proof) or a consistency-proof file.

    \b
    Opens the embedded checkpoint with the verifier key (name+keyid+base64, as 'audit key'
    prints it, or another log's) and the expected origin, then checks the proof: for an
    inclusion proof, against the leaf (--entry FILE or --leaf-hash HEX); for a consistency
    proof, from the older checkpoint (--old FILE, opened with the same key). Any C2SP-conformant
    log's checkpoints work. Exits 0 when the proof holds, 30 when it does not.
    """
    data = _read(proof, "proof file")
    verifier = parse_verifier_key(vkey)
    if data.startswith(TLOG_PROOF_HEADER.encode() + b"\n"):
        if (leaf_hash_hex is None) == (entry is None):
            raise click.UsageError("an inclusion proof needs one of --leaf-hash and --entry")
        leaf = _leaf(leaf_hash_hex, entry)
        verified = check_inclusion_proof(data, leaf_hash=leaf, origin=origin, log_key=verifier)
        kind, extra = (
            "inclusion",
            {"leaf_hash": leaf.hex(), "index": parse_inclusion_proof(data).number},
        )
    elif data.startswith(CONSISTENCY_PROOF_HEADER.encode() + b"\n"):
        if old is None:
            raise click.UsageError("a consistency proof needs --old, the older checkpoint")
        older = open_checkpoint(_read(old, "checkpoint"), origin=origin, log_key=verifier)
        verified = check_consistency_proof(data, old=older.checkpoint, log_key=verifier)
        kind, extra = "consistency", {"old_size": older.checkpoint.size}
    else:
        raise IntegrityError(f"{proof} is neither a tlog-proof nor a consistency-proof file")
    checkpoint = verified.checkpoint
    result: dict[str, Any] = {
        "verified": True,
        "proof": kind,
        "origin": checkpoint.origin,
        "tree_size": checkpoint.size,
        "root_hash": checkpoint.root_hash.hex(),
        "key": f"{verifier.name}+{verifier.key_id.hex()}",
    } | extra

    def human(console: Console) -> None:
        console.print(
            f"[bold green]verified[/]: {kind} proof against {checkpoint.origin} at size "
            f"{checkpoint.size}, signed by {result['key']}"
        )

    emit(result, as_json=as_json, human=human)


@audit.command(short_help="Print an office's log verifier key from its public keys.")
@click.argument("keys", type=ANY_PATH)
@click.option("--network", default=DEFAULT_NETWORK, show_default=True, help="Network name.")
@json_option
def key(*, keys: Path, network: str, as_json: bool) -> None:
    """Print the verifier key of an office's exchange log: name+keyid+base64, the form Go's
    note package and C2SP witnesses read. KEYS is a key folder or a public.json file.
    """
    verifier = log_verifier(load_public_keys(keys), network=network)
    emit(
        {"origin": verifier.name, "vkey": verifier.vkey},
        as_json=as_json,
        human=lambda console: console.print(verifier.vkey, markup=False),
    )


# ---------------------------------------------------------------- replay and reconcile


def _decoded(log: ExchangeLog) -> Callable[[], Iterator[tuple[int, LogEntry]]]:
    def entries() -> Iterator[tuple[int, LogEntry]]:
        for index, data in log.iter_entries():
            try:
                yield index, decode_entry(data)
            except IntegrityError as exc:
                raise IntegrityError(
                    f"{log.path}: entry {index}: {exc.diagnosis} (run 'liaison audit verify')"
                ) from None

    return entries


def _timeline_line(row: dict[str, Any]) -> str:
    parts = [f"{row['index']:>7}", row["time"], f"{row['event']:<17}"]
    if "message_id" in row:
        parts.append(f"{row.get('kind', '-'):<10} {row['message_id'][:12]}")
        parts.append(f"{row.get('sender', '?')} -> {','.join(row.get('recipients', []))}")
    extras = ("reason", "case_ref", "related_message_id", "due_at", "actor", "purpose")
    parts += [f"{name}={row[name]}" for name in extras if name in row]
    return "  ".join(parts)


@audit.command(short_help="Print the timeline of a case, a message or a period.")
@click.argument("log", type=FILE)
@click.option("--case", "case_ref", metavar="REF", help="The requesting office's case reference.")
@click.option("--message", "message_hex", metavar="ID", help="A message id (32 hex digits).")
@click.option("--from", "start", type=TimeParam(), help="From this time (inclusive).")
@click.option("--to", "end", type=TimeParam(), help="Up to this time (exclusive).")
@click.option("--decrypt", is_flag=True, help="Also show the content (logged first).")
@click.option("--keys", "key_dir", type=FOLDER, help="With --decrypt: the office's key folder.")
@click.option("--reason", help="With --decrypt: why this audit reads the content (logged).")
@click.option("--envelopes", type=FOLDER, help="The envelope store (default: envelopes/ beside).")
@_directory_options
@passphrase_options
@json_option
def replay(
    *,
    log: Path,
    case_ref: str | None,
    message_hex: str | None,
    start: datetime | None,
    end: datetime | None,
    decrypt: bool,
    key_dir: Path | None,
    reason: str | None,
    envelopes: Path | None,
    directory_files: tuple[Path, ...],
    root: Path | None,
    public_keys: tuple[Path, ...],
    passphrase_fd: int | None,
    passphrase_env: str | None,
    ask_passphrase: bool,
    as_json: bool,
) -> None:
    """Print what the log recorded (metadata only), in order.

    \b
      --case REF     the case's messages, their responses and receipts
      --message ID   one message and the entries that relate to it
      --from/--to    a period
    With --decrypt --keys KEYDIR --reason TEXT (and --directory/--public-keys for the senders'
    keys), an auditor entitled to this office's keys also sees the content. Each decryption is
    appended to the log (who, which message, why) before anything is printed.
    """
    message_id = _message_id(message_hex)
    wanted = ReplayFilter(case_ref, message_id, start, end)
    with ExchangeLog.open_existing(log, writable=decrypt) as opened:
        selected = list(select_entries(_decoded(opened), wanted))
        rows = [entry_to_json(index, entry) for index, entry in selected]
        result: dict[str, Any] = {"log": str(log), "entries": rows}
        if decrypt:
            if key_dir is None or not reason:
                raise click.UsageError("--decrypt needs --keys and --reason")
            directory = _load_directory(directory_files, root, public_keys)
            if directory is None:
                raise click.UsageError("--decrypt needs --directory or --public-keys")
            source = PassphraseSource(passphrase_fd, passphrase_env, ask_passphrase)
            keys = load_office_keys(key_dir, passphrase=source.read(confirm=False))
            store = EnvelopeStore(envelopes or store_beside(log))
            shown, refused = decrypt_for_audit(
                opened,
                store,
                selected,
                keys=keys,
                directory=directory,
                purpose=reason,
                now=datetime.now(UTC),
            )
            result["disclosures"] = [
                {
                    "entry": d.entry_index,
                    "message_id": d.message_id.hex(),
                    "kind": d.kind.name.lower(),
                    "sender": d.sender,
                    "logged_as_entry": d.logged_as,
                    "content": render_payload(d.kind, d.payload),
                }
                for d in shown
            ]
            result["not_opened"] = [
                {
                    "entry": r.entry_index,
                    "envelope_digest": r.envelope_digest.hex(),
                    "why": r.reason,
                }
                for r in refused
            ]

    def human(console: Console) -> None:
        for row in rows:
            console.print(_timeline_line(row), markup=False)
        console.print(f"{len(rows)} entries", style="bold")
        for item in result.get("disclosures", []):
            console.print(
                f"--- message {item['message_id']} ({item['kind']} from {item['sender']}), "
                f"decryption logged as entry {item['logged_as_entry']}",
                markup=False,
            )
            console.print(item["content"], markup=False)
        for item in result.get("not_opened", []):
            console.print(f"not opened: entry {item['entry']}: {item['why']}", markup=False)

    emit(result, as_json=as_json, human=human)


def _message_id(text: str | None) -> bytes | None:
    if text is None:
        return None
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) != 16:
        raise InputError("--message must be a message id of 32 hex digits")
    return value


@audit.command(short_help="Compare two offices' logs on every message between them.")
@click.argument("log_a", type=FILE)
@click.argument("log_b", type=FILE)
@click.option("--now", type=TimeParam(), help="Judge overdue answers as at this time.")
@click.option(
    "--grace",
    type=click.IntRange(min=0),
    default=300,
    show_default=True,
    help="Seconds a published message may still be in flight.",
)
@json_option
def reconcile(*, log_a: Path, log_b: Path, now: datetime | None, grace: int, as_json: bool) -> None:
    """Match two offices' records of every message between them.

    \b
    Lists messages sent but never received, received but never sent, digest mismatches,
    missing receipts and overdue answers, with the publish-to-receive latency of each
    message. Run 'audit verify' on both logs first: this compares what they say.
    Exits 0 when the logs agree (overdue answers are information), 30 otherwise.
    """
    with ExchangeLog.open_existing(log_a) as a, ExchangeLog.open_existing(log_b) as b:
        if a.office_id == b.office_id:
            raise InputError(f"both logs are {a.office_id}'s")
        report = reconcile_logs(
            a.office_id,
            _decoded(a)(),
            b.office_id,
            _decoded(b)(),
            now=now or datetime.now(UTC),
            grace=timedelta(seconds=grace),
        )

    def human(console: Console) -> None:
        for finding in report.findings:
            console.print(
                f"{finding.code.value}: {finding.message_id.hex()} "
                f"{finding.sender} -> {finding.recipient}: {finding.detail}",
                markup=False,
            )
        latency = report.latency_summary()
        console.print(
            f"{report.office_a} and {report.office_b}: {latency['count']} messages delivered; "
            f"latency min/median/max {latency['min_ms']}/{latency['median_ms']}/"
            f"{latency['max_ms']} ms; "
            + ("the logs agree" if report.agree else "the logs disagree"),
            markup=False,
        )

    emit(report.to_json(), as_json=as_json, human=human)
    if not report.agree:
        raise IntegrityError(f"{log_a} and {log_b} disagree")
