"""``liaison audit``: verify, prove, check-proof (ours and other logs'), key, replay, reconcile.

Run through the real entry point (``run``, with the group registered as main.py will) and, for a
few cases, through click's CliRunner on the group itself.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import ed25519
from rich.console import Console

from broker.cli import audit_cmd
from broker.cli.main import cli
from broker.envelope import MessageKind
from broker.exchange_log import EventType, ExchangeLog
from broker.keys.files import load_office_keys
from broker.ledger import (
    Ed25519Signer,
    format_consistency_proof,
    format_inclusion_proof,
    sign_checkpoint,
)
from broker.ledger.checkpoint import Checkpoint
from broker.ledger.merkle import ConsistencyProof, InclusionProof
from tests.conftest import CliResult
from tests.unit.test_exchange_log_world import HK, TH, VN, World

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "keys" / "example"
INTEROP = ROOT / "tests" / "vectors" / "log" / "interop"
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
ORIGIN = f"liaison.example/log/{HK}"

Liaison = Callable[..., CliResult]


@pytest.fixture
def liaison(liaison: Liaison, monkeypatch: pytest.MonkeyPatch) -> Liaison:
    monkeypatch.setitem(cli.commands, "audit", audit_cmd.audit)
    return liaison


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    made = World(tmp_path / "world")
    enquiry = made.send(HK, VN, case_ref="HK-2026-0042", due=made.now + timedelta(days=3))
    made.send(VN, HK, kind=MessageKind.RESPONSE, related=enquiry)
    made.checkpoint(HK)
    made.send(HK, TH, case_ref="HK-2026-0077")
    made.checkpoint(HK)
    yield made
    made.close()


def hk(world: World) -> tuple[str, str]:
    return str(world[HK].log_path), str(world[HK].key_dir)


def test_the_group_and_every_command_explain_themselves() -> None:
    runner = CliRunner()
    result = runner.invoke(audit_cmd.audit, ["--help"])
    assert result.exit_code == 0
    for name in ("verify", "prove", "check-proof", "key", "replay", "reconcile"):
        assert name in result.output
        sub = runner.invoke(audit_cmd.audit, [name, "--help"])
        assert sub.exit_code == 0, sub.output
        assert len(sub.output.split()) > 30


# ---------------------------------------------------------------- verify


def test_verify_with_public_keys(liaison: Liaison, world: World) -> None:
    log, keys = hk(world)
    result = liaison("audit", "verify", log, "--public-keys", keys)
    assert result.code == 0, result.err
    assert "structural verification of liaison.example/log/CN-YN-BLO-HK" in result.out
    assert "no problems" in result.out
    folders = [str(world[o].key_dir) for o in (HK, VN, TH)]
    args = [a for folder in folders for a in ("--public-keys", folder)]
    result = liaison("audit", "verify", log, *args, "--full", "--json", "--workers", "2")
    document = json.loads(result.out)
    assert result.code == 0, result.err
    assert document["ok"] is True
    assert document["mode"] == "full"
    assert document["envelopes_checked"] >= 6


def test_verify_with_the_log_key_and_exit_30_on_a_problem(liaison: Liaison, world: World) -> None:
    log, keys = hk(world)
    vkey = liaison("audit", "key", keys).out.strip()
    assert vkey.startswith(ORIGIN + "+")
    assert liaison("audit", "verify", log, "--log-key", vkey).code == 0
    with ExchangeLog.open_existing(world[HK].log_path, writable=True) as opened:
        entry = opened.entry_bytes(1)
    import sqlite3  # noqa: PLC0415, TID251 - the insider's tool

    with sqlite3.connect(log) as conn:
        conn.execute("UPDATE entries SET entry = ? WHERE idx = 2", (entry,))
    result = liaison("audit", "verify", log, "--log-key", vkey, "--json")
    assert result.code == 30
    problems = json.loads(result.out)["problems"]
    assert {"code": "leaf-mismatch", "entry": 2} in [
        {"code": p["code"], "entry": p["entry"]} for p in problems
    ]
    assert "problem(s) found" in result.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "needs --public-keys, --directory or --log-key"),
        (["--full", "--log-key", SUMDB_VKEY], "--full needs --directory or --public-keys"),
        (["--directory", str(EXAMPLE / "directory.bin")], "--directory needs --root"),
        (
            ["--directory", str(EXAMPLE / "directory.bin"), "--public-keys", "x"],
            "not both",
        ),
    ],
)
def test_verify_usage_errors(liaison: Liaison, world: World, args: list[str], message: str) -> None:
    result = liaison("audit", "verify", hk(world)[0], *args)
    assert result.code == 2
    assert message in result.err


def test_verify_a_missing_log(liaison: Liaison, tmp_path: Path) -> None:
    result = liaison("audit", "verify", str(tmp_path / "none.db"), "--log-key", SUMDB_VKEY)
    assert result.code == 5
    assert "no exchange log at" in result.err


def test_verify_full_against_the_signed_demo_directory(liaison: Liaison, tmp_path: Path) -> None:
    keys = {}
    for office in (HK, VN):
        folder = tmp_path / "demo-keys" / office
        shutil.copytree(EXAMPLE / "offices" / office, folder)
        for key_file in folder.glob("*.key"):
            key_file.chmod(0o600)
        keys[office] = load_office_keys(folder)
    start = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # the demo keys are valid from 2026-11-01
    demo = World(tmp_path / "demo", (HK, VN), start=start, keys=keys)
    try:
        demo.send(HK, VN)
        demo.send(VN, HK, kind=MessageKind.RESPONSE, related=b"\1" * 16)
        demo.checkpoint(HK)
    finally:
        demo.close()
    args = ["--directory", str(EXAMPLE / "directory.bin"), "--root", str(EXAMPLE / "root.json")]
    result = liaison("audit", "verify", str(demo[HK].log_path), *args, "--full")
    assert result.code == 0, result.out + result.err
    assert "envelopes checked" in result.out


def test_the_progress_bar_goes_to_a_terminal_only(
    liaison: Liaison, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(audit_cmd, "err", Console(file=screen, force_terminal=True, width=100))
    log, keys = hk(world)
    assert liaison("audit", "verify", log, "--public-keys", keys).code == 0
    assert "verifying" in screen.getvalue()
    assert "entries" in screen.getvalue()


# ---------------------------------------------------------------- prove and check-proof


def test_prove_and_check_an_inclusion(liaison: Liaison, world: World, tmp_path: Path) -> None:
    log, keys = hk(world)
    vkey = liaison("audit", "key", keys).out.strip()
    proof = tmp_path / "entry-3.tlog-proof"
    assert liaison("audit", "prove", log, "--inclusion", "3", "-o", str(proof)).code == 0
    assert proof.read_bytes().startswith(b"c2sp.org/tlog-proof@v1\nindex 3\n")
    entry = tmp_path / "entry-3.bin"
    with ExchangeLog.open_existing(world[HK].log_path) as opened:
        entry.write_bytes(opened.entry_bytes(3))
        leaf = __import__("broker.ledger", fromlist=["leaf_hash"]).leaf_hash(opened.entry_bytes(3))
    result = liaison(
        "audit", "check-proof", str(proof), "--key", vkey, "--origin", ORIGIN,
        "--entry", str(entry), "--json",
    )  # fmt: skip
    assert result.code == 0, result.err
    document = json.loads(result.out)
    assert (document["proof"], document["index"], document["verified"]) == ("inclusion", 3, True)
    by_hash = liaison(
        "audit", "check-proof", str(proof), "--key", vkey, "--origin", ORIGIN,
        "--leaf-hash", leaf.hex(),
    )  # fmt: skip
    assert by_hash.code == 0
    assert "verified" in by_hash.out
    entry.write_bytes(entry.read_bytes() + b"\0")
    wrong = liaison(
        "audit", "check-proof", str(proof), "--key", vkey, "--origin", ORIGIN, "--entry", str(entry)
    )
    assert wrong.code == 30
    assert "root mismatch" in wrong.err


def test_prove_to_stdout_and_check_a_consistency(
    liaison: Liaison, world: World, tmp_path: Path
) -> None:
    log, keys = hk(world)
    vkey = liaison("audit", "key", keys).out.strip()
    with ExchangeLog.open_existing(world[HK].log_path) as opened:
        old, new = opened.checkpoints()
    result = liaison("audit", "prove", log, "--consistency", str(old.size), str(new.size))
    assert result.code == 0
    assert result.out.startswith(f"liaison/consistency-proof@v1\nold {old.size}\n")
    proof = tmp_path / "c.proof"
    proof.write_text(result.out)
    older = tmp_path / "old.note"
    older.write_bytes(old.note)
    checked = liaison(
        "audit", "check-proof", str(proof), "--key", vkey, "--origin", ORIGIN, "--old", str(older)
    )
    assert checked.code == 0, checked.err
    assert f"at size {new.size}" in checked.out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["prove", "LOG"], 2, "exactly one of --inclusion and --consistency"),
        (["prove", "LOG", "--inclusion", "999"], 5, "no stored checkpoint covers entry 999"),
        (["prove", "LOG", "--consistency", "1", "7"], 5, "no stored checkpoint has size 7"),
        (["prove", "LOG", "--inclusion", "0", "-o", "/nonexistent/x"], 5, "cannot write"),
    ],
)
def test_prove_errors(
    liaison: Liaison, world: World, args: list[str], code: int, message: str
) -> None:
    result = liaison("audit", *[hk(world)[0] if a == "LOG" else a for a in args])
    assert result.code == code
    assert message in result.err


def test_check_proof_errors(liaison: Liaison, tmp_path: Path) -> None:
    junk = tmp_path / "junk.proof"
    junk.write_bytes(b"hello\n\nthere")
    base = ["audit", "check-proof", str(junk), "--key", SUMDB_VKEY, "--origin", "x"]
    assert liaison(*base).code == 30
    tlog = tmp_path / "t.proof"
    tlog.write_bytes(b"c2sp.org/tlog-proof@v1\nindex 0\n\n")
    result = liaison("audit", "check-proof", str(tlog), "--key", SUMDB_VKEY, "--origin", "x")
    assert (result.code, "--leaf-hash and --entry" in result.err) == (2, True)
    result = liaison(
        "audit", "check-proof", str(tlog), "--key", SUMDB_VKEY, "--origin", "x", "--leaf-hash", "zz"
    )
    assert (result.code, "64 hex digits" in result.err) == (5, True)
    consistency = tmp_path / "c.proof"
    consistency.write_bytes(b"liaison/consistency-proof@v1\nold 1\n\n")
    result = liaison("audit", "check-proof", str(consistency), "--key", SUMDB_VKEY, "--origin", "x")
    assert (result.code, "needs --old" in result.err) == (2, True)
    result = liaison(
        "audit", "check-proof", str(tmp_path / "none"), "--key", SUMDB_VKEY, "--origin", "x"
    )
    assert (result.code, "cannot read proof file" in result.err) == (5, True)


# ---------------------------------------------------------------- other logs' proofs


def _argon(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((INTEROP / "argon2020" / name).read_text())  # type: ignore[no-any-return]


@pytest.fixture
def argon_signer() -> Ed25519Signer:
    # Argon's tree heads are signed in CT's own format; a test key re-signs its size and root as
    # a C2SP checkpoint, so the real proofs can be checked end to end through the command.
    seed = bytes(range(32))
    return Ed25519Signer(
        "ct.googleapis.com/logs/argon2020", ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    )


def test_check_proof_reads_a_real_ct_inclusion_proof(
    liaison: Liaison, tmp_path: Path, argon_signer: Ed25519Signer
) -> None:
    sth = _argon("sth.json")
    size, root = sth["tree_size"], base64.b64decode(sth["sha256_root_hash"])
    hashes = tuple(base64.b64decode(h) for h in _argon("proof.json")["audit_path"])
    signed = sign_checkpoint(Checkpoint(argon_signer.name, size, root), argon_signer)
    proof = tmp_path / "argon.tlog-proof"
    proof.write_bytes(format_inclusion_proof(InclusionProof(10000, size, hashes), signed))
    entry = tmp_path / "leaf_input.bin"
    entry.write_bytes(base64.b64decode(_argon("entries.json")["entries"][0]["leaf_input"]))
    args = ["--key", argon_signer.verifier().vkey, "--origin", argon_signer.name]
    result = liaison("audit", "check-proof", str(proof), *args, "--entry", str(entry))
    assert result.code == 0, result.err
    assert "at size 961984013" in result.out
    broken = bytearray(proof.read_bytes())
    broken[len("c2sp.org/tlog-proof@v1\nindex 10000\n") + 5] ^= 0x01  # one base64 digit
    proof.write_bytes(bytes(broken))
    assert liaison("audit", "check-proof", str(proof), *args, "--entry", str(entry)).code == 30


def test_check_proof_reads_a_real_ct_consistency_proof(
    liaison: Liaison, tmp_path: Path, argon_signer: Ed25519Signer
) -> None:
    sth = _argon("sth.json")
    size, root = sth["tree_size"], base64.b64decode(sth["sha256_root_hash"])
    old_size, old_root = 3654490, base64.b64decode("AuIZ5V6sDUj1vn3Y1K85oOaQ7y+FJJKtyRTl1edIKBQ=")
    hashes = tuple(base64.b64decode(h) for h in _argon("consistency.json")["consistency"])
    signed = sign_checkpoint(Checkpoint(argon_signer.name, size, root), argon_signer)
    proof = tmp_path / "argon.proof"
    proof.write_bytes(format_consistency_proof(ConsistencyProof(old_size, size, hashes), signed))
    older = tmp_path / "old.note"
    older.write_bytes(
        sign_checkpoint(Checkpoint(argon_signer.name, old_size, old_root), argon_signer)
    )
    args = ["--key", argon_signer.verifier().vkey, "--origin", argon_signer.name]
    result = liaison("audit", "check-proof", str(proof), *args, "--old", str(older), "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["old_size"] == old_size


def test_check_proof_opens_a_real_sumdb_checkpoint(liaison: Liaison, tmp_path: Path) -> None:
    """sum.golang.org's checkpoint is opened with Go's pinned key; the (made-up) proof is then
    checked against its real size and root and fails as it must."""
    note = (INTEROP / "sum.golang.org-49189689.note").read_bytes()
    hashes = tuple(bytes([i]) * 32 for i in range(26))  # index 0 of 49,189,689 needs 26
    proof = tmp_path / "sumdb.tlog-proof"
    proof.write_bytes(format_inclusion_proof(InclusionProof(0, 49189689, hashes), note))
    base = ["audit", "check-proof", str(proof), "--key", SUMDB_VKEY, "--leaf-hash", "00" * 32]
    result = liaison(*base, "--origin", "go.sum database tree")
    assert result.code == 30
    assert "root mismatch" in result.err  # the signature verified; the proof did not
    wrong_origin = liaison(*base, "--origin", "sum.golang.org")
    assert "checkpoint origin is 'go.sum database tree'" in wrong_origin.err
    other_key = Ed25519Signer("sum.golang.org", ed25519.Ed25519PrivateKey.generate()).verifier()
    result = liaison(
        "audit", "check-proof", str(proof), "--key", other_key.vkey, "--leaf-hash", "00" * 32,
        "--origin", "go.sum database tree",
    )  # fmt: skip
    assert "unknown key" in result.err


# ---------------------------------------------------------------- key, replay, reconcile


def test_key_prints_the_verifier_key(liaison: Liaison, world: World) -> None:
    keys = hk(world)[1]
    result = liaison("audit", "key", keys, "--network", "police.example", "--json")
    document = json.loads(result.out)
    assert document["origin"] == f"police.example/log/{HK}"
    assert document["vkey"].startswith(f"police.example/log/{HK}+")
    public = str(Path(keys) / "public.json")
    assert liaison("audit", "key", public).out.strip() == liaison("audit", "key", keys).out.strip()


def test_replay_a_case_as_text_and_json(liaison: Liaison, world: World) -> None:
    log = hk(world)[0]
    text = liaison("audit", "replay", log, "--case", "HK-2026-0042")
    assert text.code == 0
    assert "submitted" in text.out
    assert "response-received" in text.out
    assert "HK-2026-0077" not in text.out
    document = json.loads(liaison("audit", "replay", log, "--case", "HK-2026-0077", "--json").out)
    assert {row["event"] for row in document["entries"]} >= {"submitted", "published"}
    first = document["entries"][0]["message_id"]
    one = json.loads(liaison("audit", "replay", log, "--message", first, "--json").out)
    assert all(
        row.get("message_id") == first or row.get("related_message_id") == first
        for row in one["entries"]
    )
    period = liaison("audit", "replay", log, "--from", "2030-01-01", "--json")
    assert json.loads(period.out)["entries"] == []
    bad = liaison("audit", "replay", log, "--message", "abc")
    assert (bad.code, "32 hex digits" in bad.err) == (5, True)
    bad_time = liaison("audit", "replay", log, "--from", "yesterday")
    assert bad_time.code == 2


def test_replay_decrypt_logs_before_it_shows(
    liaison: Liaison, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = str(world[VN].log_path)
    world[VN].log.close()
    seen_logged: list[bool] = []
    real_render = audit_cmd.render_payload

    def render_after_checking(kind: MessageKind, payload: bytes) -> str:
        with ExchangeLog.open_existing(world[VN].log_path) as opened:
            last = opened.entry(opened.size - 1)
        seen_logged.append(last.event is EventType.AUDIT_DECRYPTION)
        return real_render(kind, payload)

    monkeypatch.setattr(audit_cmd, "render_payload", render_after_checking)
    folders = [a for o in (HK, VN) for a in ("--public-keys", str(world[o].key_dir))]
    result = liaison(
        "audit", "replay", log, "--case", "HK-2026-0042", "--decrypt",
        "--keys", str(world[VN].key_dir), "--reason", "oversight review 2026-07", *folders,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert seen_logged
    assert all(seen_logged)
    assert "MPS-OCT-2025-0457" in result.out  # the enquiry's content
    assert "decryption logged as entry" in result.out
    assert "not opened" in result.out  # VN's own receipts and response are not addressed to VN
    with ExchangeLog.open_existing(world[VN].log_path) as opened:
        records = [opened.entry(i) for i in range(opened.size)]
    decryptions = [r for r in records if r.event is EventType.AUDIT_DECRYPTION]
    assert decryptions
    assert {(r.actor, r.purpose) for r in decryptions} == {(VN, "oversight review 2026-07")}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--keys", "K"], "--decrypt needs --keys and --reason"),
        (["--keys", "K", "--reason", "r"], "--decrypt needs --directory or --public-keys"),
    ],
)
def test_replay_decrypt_usage(
    liaison: Liaison, world: World, extra: list[str], message: str
) -> None:
    args = [str(world[VN].key_dir) if a == "K" else a for a in extra]
    result = liaison("audit", "replay", str(world[VN].log_path), "--decrypt", *args)
    assert result.code == 2
    assert message in result.err


def test_reconcile(liaison: Liaison, world: World) -> None:
    hk_log, vn_log = str(world[HK].log_path), str(world[VN].log_path)
    later = (world.now + timedelta(days=30)).isoformat()
    result = liaison("audit", "reconcile", hk_log, vn_log, "--now", later)
    assert result.code == 0, result.out + result.err
    assert "the logs agree" in result.out
    document = json.loads(
        liaison("audit", "reconcile", hk_log, vn_log, "--now", later, "--json").out
    )
    assert document["latency"]["count"] == 4
    th_log = str(world[TH].log_path)
    disagree = liaison("audit", "reconcile", hk_log, th_log, "--now", later)
    assert disagree.code == 0  # TH got HK's enquiry; its receipt reached HK
    world.send(HK, VN, deliver=False)
    lost = liaison("audit", "reconcile", hk_log, vn_log, "--now", later, "--grace", "0")
    assert lost.code == 30
    assert "sent-not-received" in lost.out
    same = liaison("audit", "reconcile", hk_log, hk_log)
    assert (same.code, "both logs are" in same.err) == (5, True)
