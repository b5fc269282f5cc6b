"""``liaison backup`` and ``liaison restore`` without a broker: a data folder of two offices
that exchanged enquiries (submitted with the CLI, accepted by the inbox side, flushed and
checkpointed) is backed up, restored into a fresh folder and found equal, log verified; a
tampered archive, a member leaving the folder, an existing folder without --force and a
folder a daemon holds are all refused with nothing restored."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import sqlite3  # noqa: TID251 - the insider's tool, on purpose
import tarfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from broker.backup import backup_office
from broker.cli.backup_cmd import COMMANDS as BACKUP_COMMANDS
from broker.cli.main import cli
from broker.cli.office_cmd import COMMANDS as OFFICE_COMMANDS
from broker.config import parse_config
from broker.daemon import load_office
from broker.daemon.decisions import Arrival
from broker.daemon.handover import handover_from_config
from broker.daemon.inbound import Inbound, Settle
from broker.daemon.office import Office, read_secret
from broker.daemon.upkeep import FolderLock
from broker.exchange_log import EnvelopeStore, ExchangeLog, log_signer
from broker.model import CaseEnquiry, new_id
from broker.office_store import InboxState, OfficeStore
from broker.topology import routing_key
from tests.demo import DIRECTORY_FILE, ROOT_FILE, make

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
HK, VN = "CN-YN-BLO-HK", "VN-BCA-C02"


@pytest.fixture(scope="module")
def key_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make.private_copy(tmp_path_factory.mktemp("keys"))


@pytest.fixture
def run(liaison: Callable[..., Any], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    for name, command in {**OFFICE_COMMANDS, **BACKUP_COMMANDS}.items():
        monkeypatch.setitem(cli.commands, name, command)
    return liaison


def write_config(folder: Path, office_id: str, keys: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "office.toml"
    path.write_text(
        f'[office]\nid = "{office_id}"\ndata_dir = "data"\n[keys]\ndir = "{keys}"\n'
        f'[directory]\nfile = "{DIRECTORY_FILE}"\npinned_root = "{ROOT_FILE}"\n'
        '[amqp]\nurls = ["amqp://127.0.0.1:5672/liaison"]\nuser_prefix = "t1-"\n',
        encoding="utf-8",
    )
    return path


def load(config: Path) -> Office:
    parsed = parse_config(config.read_text(), config)
    return load_office(parsed, passphrase=None, now=datetime.now(UTC))


def enquiry() -> CaseEnquiry:
    alert = CaseEnquiry.from_json((EXAMPLES / "missing-child-alert.json").read_text("utf-8"))
    return dataclasses.replace(
        alert,
        enquiry_id=new_id(),
        recipient_offices=(VN,),
        response_due=datetime.now(UTC).replace(microsecond=0) + timedelta(days=2),
    )


@dataclasses.dataclass
class Exchanged:
    vn_config: Path
    vn: Office
    message_ids: list[bytes]


@pytest.fixture
def exchanged(run: Callable[..., Any], tmp_path: Path, key_folder: Path) -> Exchanged:
    """HK submitted two enquiries; VN accepted and handed them over (queuing receipts),
    flushed its journal into its log and signed a checkpoint, as its daemon would."""
    hk_config = write_config(tmp_path / "hk", HK, key_folder / "offices" / HK)
    vn_config = write_config(tmp_path / "vn", VN, key_folder / "offices" / VN)
    message_ids = []
    for number in range(2):
        (tmp_path / f"enquiry-{number}.json").write_text(enquiry().to_json(), encoding="utf-8")
        sent = run("submit", str(tmp_path / f"enquiry-{number}.json"), "--config", str(hk_config))
        assert sent.code == 0, sent.err
        message_ids.append(bytes.fromhex(sent.out.strip()))
    hk, vn = load(hk_config), load(vn_config)
    now = datetime.now(UTC)
    with (
        OfficeStore.open(hk.paths.store, office_id=HK) as hk_store,
        OfficeStore.open(vn.paths.store, office_id=VN) as store,
        ExchangeLog.open(vn.paths.log, office_id=VN) as log,
    ):
        handover = handover_from_config(vn.config, read_secret=read_secret)
        inbound = Inbound(lambda: vn, store, EnvelopeStore(vn.paths.envelopes), handover)
        for message_id in message_ids:
            envelope = hk_store.outbox_envelope(message_id)
            assert envelope is not None
            arrival = Arrival(envelope, routing_key(HK, VN), "t1-cn-yn-blo-hk")
            assert inbound.handle(arrival, now=now) is Settle.ACK
        store.flush_journal(log)
        log.checkpoint(log_signer(vn.keys), now)
    return Exchanged(vn_config, vn, message_ids)


def log_state(path: Path) -> tuple[list[bytes], list[bytes], bytes]:
    with ExchangeLog.open_existing(path) as log:
        entries = [bytes(data) for _, data in log.iter_entries()]
        return entries, [c.note for c in log.checkpoints()], log.root()


def envelope_files(data_dir: Path) -> dict[str, bytes]:
    root = data_dir / "envelopes"
    return {str(p.relative_to(root)): p.read_bytes() for p in root.glob("*/*")}


def fresh_config(tmp_path: Path, key_folder: Path, name: str = "restored") -> Path:
    return write_config(tmp_path / name, VN, key_folder / "offices" / VN)


def back_up(run: Callable[..., Any], exchanged: Exchanged, out: Path) -> dict[str, Any]:
    result = run("backup", "--config", str(exchanged.vn_config), "--out", str(out), "--json")
    assert result.code == 0, result.err
    summary: dict[str, Any] = json.loads(result.out)
    return summary


def rewrite(
    archive: Path,
    out: Path,
    change: Callable[[str, bytes], bytes] = lambda _name, data: data,
    extra: list[tarfile.TarInfo] | None = None,
) -> Path:
    """A copy of ``archive`` with each member's bytes passed through ``change`` and ``extra``
    members (with their data, if regular files) added first."""
    with tarfile.open(archive) as source, tarfile.open(out, "w") as target:
        for info in extra or []:
            target.addfile(info, io.BytesIO(b"x" * info.size) if info.isreg() else None)
        for member in source.getmembers():
            handle = source.extractfile(member)
            assert handle is not None
            data = change(member.name, handle.read())
            member.size = len(data)
            target.addfile(member, io.BytesIO(data))
    return out


def restore(run: Callable[..., Any], archive: Path, config: Path, *more: str) -> Any:
    return run("restore", str(archive), "--config", str(config), "--workers", "1", *more)


def test_a_backup_restores_into_a_fresh_folder_with_its_log_verified_and_equal(
    run: Callable[..., Any], exchanged: Exchanged, tmp_path: Path, key_folder: Path
) -> None:
    archive = tmp_path / "vn.tar"
    summary = back_up(run, exchanged, archive)
    assert archive.stat().st_mode & 0o777 == 0o600
    original = exchanged.vn.paths
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest_file = tar.extractfile("manifest.json")
        assert manifest_file is not None
        manifest = json.loads(manifest_file.read())
    envelopes = {f"envelopes/{name}" for name in envelope_files(original.data_dir)}
    assert len(envelopes) >= 4  # two enquiries and two receipts
    assert set(names) == {
        "office.db",
        "exchange-log.db",
        "directory-state.json",
        "directory-accepted.bin",
        "manifest.json",
        *envelopes,
    }  # fmt: skip: no spool (plaintext), no status file, no lock, no keys
    assert (manifest["office_id"], summary["files"]) == (VN, len(names) - 1)
    entries, notes, root = log_state(original.log)
    assert manifest["log"]["entries"] == len(entries) == summary["log"]["entries"]
    assert manifest["log"]["root"] == root.hex()
    assert manifest["log"]["checkpoint"]["size"] == len(entries)

    config = fresh_config(tmp_path, key_folder)
    result = restore(run, archive, config, "--json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["verify"]["ok"] is True
    assert report["verify"]["mode"] == "full"
    assert report["verify"]["log"] == str(config.parent / "data" / "exchange-log.db")
    assert report["verify"]["entries"] == len(entries)
    assert report["replaced"] is None
    restored = config.parent / "data"
    assert log_state(restored / "exchange-log.db") == (entries, notes, root)
    assert envelope_files(restored) == envelope_files(original.data_dir)
    with OfficeStore.open(restored / "office.db", office_id=VN) as store:
        rows = [store.received(message_id) for message_id in exchanged.message_ids]
        assert [row.state if row else None for row in rows] == [InboxState.HANDED_OVER] * 2
        assert store.pending_log_entries() == 0
    assert (restored / "office.db").stat().st_mode & 0o777 == 0o600
    assert not list(restored.glob(".restore-*"))
    human = restore(run, archive, fresh_config(tmp_path, key_folder, "again"))
    assert human.code == 0, human.err
    assert f"log: full verification of liaison.example/log/{VN}" in human.out
    assert "1 checkpoints" in human.out
    assert "no problems" in human.out


def test_a_tampered_archive_is_refused_and_nothing_is_restored(
    run: Callable[..., Any], exchanged: Exchanged, tmp_path: Path, key_folder: Path
) -> None:
    archive = tmp_path / "vn.tar"
    back_up(run, exchanged, archive)

    def flip_an_envelope(name: str, data: bytes) -> bytes:
        return data[:-1] + bytes([data[-1] ^ 1]) if name.startswith("envelopes/") else data

    config = fresh_config(tmp_path, key_folder)
    tampered = rewrite(archive, tmp_path / "tampered.tar", flip_an_envelope)
    result = restore(run, tampered, config)
    assert result.code == 30
    assert "does not match its SHA-256" in result.err
    data_dir = config.parent / "data"
    assert not (data_dir / "office.db").exists()
    assert [p.name for p in data_dir.iterdir()] == ["daemon.lock"]

    def drop_the_store(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        del manifest["files"]["office.db"]
        return json.dumps(manifest).encode()

    unlisted = restore(run, rewrite(archive, tmp_path / "unlisted.tar", drop_the_store), config)
    assert unlisted.code == 30
    assert "'office.db' is not listed" in unlisted.err
    (tmp_path / "junk.tar").write_bytes(b"not a tar file at all" * 100)
    assert restore(run, tmp_path / "junk.tar", config).code == 5
    assert not (data_dir / "office.db").exists()


def test_a_log_altered_with_a_matching_manifest_fails_verification(
    run: Callable[..., Any], exchanged: Exchanged, tmp_path: Path, key_folder: Path
) -> None:
    """Whoever rewrites the manifest too is caught by the log's own signed checkpoint."""
    archive = tmp_path / "vn.tar"
    back_up(run, exchanged, archive)
    work = tmp_path / "work"
    work.mkdir()
    with tarfile.open(archive) as tar:
        source = tar.extractfile("exchange-log.db")
        assert source is not None
        (work / "log.db").write_bytes(source.read())
    with sqlite3.connect(work / "log.db") as conn:
        conn.execute("DELETE FROM entries WHERE idx = 1")
    conn.close()
    altered_log = (work / "log.db").read_bytes()

    def alter(name: str, data: bytes) -> bytes:
        if name == "exchange-log.db":
            return altered_log
        if name == "manifest.json":
            manifest = json.loads(data)
            manifest["files"]["exchange-log.db"] = {
                "sha256": hashlib.sha256(altered_log).hexdigest(),
                "bytes": len(altered_log),
            }
            return json.dumps(manifest).encode()
        return data

    config = fresh_config(tmp_path, key_folder)
    result = restore(run, rewrite(archive, tmp_path / "altered.tar", alter), config)
    assert result.code == 30
    assert "the restored exchange log has" in result.err
    assert "entry-missing" in result.err
    assert not (config.parent / "data" / "exchange-log.db").exists()


def _member(name: str, kind: bytes = tarfile.REGTYPE, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    info.size = 5 if kind == tarfile.REGTYPE else 0
    return info


@pytest.mark.parametrize(
    ("member", "problem"),
    [
        (_member("../evil"), "leaving the data folder"),
        (_member("envelopes/../../evil"), "leaving the data folder"),
        (_member("/evil"), "an absolute path"),
        (_member("envelopes/aa/" + "b" * 62, tarfile.SYMTYPE, "/etc/passwd"), "a link"),
        (_member("office.db", tarfile.LNKTYPE, "exchange-log.db"), "a link"),
        (_member("envelopes", tarfile.DIRTYPE), "not a regular file"),
        (_member("spool/in/x.json"), "not a file a Liaison backup holds"),
    ],
)
def test_a_member_outside_the_data_folder_or_not_a_plain_file_is_refused(
    run: Callable[..., Any],
    *,
    exchanged: Exchanged,
    tmp_path: Path,
    key_folder: Path,
    member: tarfile.TarInfo,
    problem: str,
) -> None:
    archive = tmp_path / "vn.tar"
    back_up(run, exchanged, archive)
    config = fresh_config(tmp_path, key_folder)
    hostile = rewrite(archive, tmp_path / "hostile.tar", extra=[member])
    result = restore(run, hostile, config)
    assert result.code == 30
    assert problem in result.err
    assert "nothing was restored" in result.err
    assert not (tmp_path / "evil").exists()
    assert not (config.parent / "evil").exists()
    assert [p.name for p in (config.parent / "data").iterdir()] == ["daemon.lock"]


def test_restoring_over_existing_data_needs_force_and_keeps_the_old_files(
    run: Callable[..., Any], exchanged: Exchanged, tmp_path: Path, key_folder: Path
) -> None:
    archive = tmp_path / "vn.tar"
    back_up(run, exchanged, archive)
    config = fresh_config(tmp_path, key_folder)
    assert restore(run, archive, config).code == 0
    data_dir = config.parent / "data"
    (data_dir / "office.db-wal").write_bytes(b"a stale write-ahead log")
    refused = restore(run, archive, config)
    assert refused.code == 3
    assert "already holds an office's data" in refused.err
    assert "--force" in refused.err
    forced = restore(run, archive, config, "--force", "--json")
    assert forced.code == 0, forced.err
    replaced = Path(json.loads(forced.out)["replaced"])
    assert replaced.parent == data_dir
    assert sorted(p.name for p in replaced.iterdir()) == [
        "directory-accepted.bin", "directory-state.json", "envelopes", "exchange-log.db",
        "office.db", "office.db-wal",
    ]  # fmt: skip
    assert not (data_dir / "office.db-wal").exists()  # never applied to the restored store
    entries, _, _ = log_state(exchanged.vn.paths.log)
    assert log_state(data_dir / "exchange-log.db")[0] == entries


def test_restore_refuses_a_folder_a_daemon_holds_and_a_backup_of_another_office(
    run: Callable[..., Any], exchanged: Exchanged, tmp_path: Path, key_folder: Path
) -> None:
    archive = tmp_path / "vn.tar"
    back_up(run, exchanged, archive)
    config = fresh_config(tmp_path, key_folder)
    held = FolderLock(config.parent / "data" / "daemon.lock")
    held.take()
    try:
        result = restore(run, archive, config)
    finally:
        held.release()
    assert result.code == 3
    assert "another liaison daemon is running" in result.err
    assert not (config.parent / "data" / "office.db").exists()
    hk_config = write_config(tmp_path / "hk2", HK, key_folder / "offices" / HK)
    wrong = restore(run, archive, hk_config)
    assert wrong.code == 3
    assert "is a backup of 'VN-BCA-C02'" in wrong.err


def test_backup_refuses_to_overwrite_and_needs_an_office_folder(
    run: Callable[..., Any], exchanged: Exchanged, tmp_path: Path, key_folder: Path
) -> None:
    archive = tmp_path / "vn.tar"
    archive.write_bytes(b"precious")
    again = run("backup", "--config", str(exchanged.vn_config), "--out", str(archive))
    assert again.code == 5
    assert archive.read_bytes() == b"precious"
    empty = fresh_config(tmp_path, key_folder, "empty")
    nothing = run("backup", "--config", str(empty), "--out", str(tmp_path / "none.tar"))
    assert nothing.code == 3
    assert "holds no office store" in nothing.err
    assert not list(tmp_path.glob(".liaison-backup-*"))
    assert not list(tmp_path.glob(".none.tar*"))


def test_a_backup_waits_for_a_writer_s_transaction_and_copies_it_whole(
    exchanged: Exchanged, tmp_path: Path
) -> None:
    """The copy takes the store's write lock, which every journal flush holds while it
    appends to the log: a transaction in progress is waited for, then copied whole."""
    writer = sqlite3.connect(exchanged.vn.paths.store, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO meta VALUES ('written-during-the-backup', 'x')")
    archive = tmp_path / "vn.tar"
    copying = threading.Thread(
        target=backup_office,
        args=(exchanged.vn.paths.data_dir, archive),
        kwargs={"office_id": VN, "now": datetime.now(UTC)},
    )
    copying.start()
    time.sleep(0.5)  # ordering only: a copy that did not wait would be done by now
    writer.execute("COMMIT")
    writer.close()
    copying.join(30)
    assert not copying.is_alive()
    with tarfile.open(archive) as tar:
        handle = tar.extractfile("office.db")
        assert handle is not None
        (tmp_path / "copy.db").write_bytes(handle.read())
    copy = sqlite3.connect(tmp_path / "copy.db")
    try:
        keys = {row[0] for row in copy.execute("SELECT key FROM meta")}
    finally:
        copy.close()
    assert "written-during-the-backup" in keys


def test_a_backup_compressed_for_storage_restores_as_it_is(
    run: Callable[..., Any], exchanged: Exchanged, tmp_path: Path, key_folder: Path
) -> None:
    archive = tmp_path / "vn.tar"
    back_up(run, exchanged, archive)
    compressed = tmp_path / "vn.tar.gz"
    compressed.write_bytes(gzip.compress(archive.read_bytes()))
    config = fresh_config(tmp_path, key_folder)
    result = restore(run, compressed, config, "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["verify"]["ok"] is True
    assert log_state(config.parent / "data" / "exchange-log.db") == log_state(
        exchanged.vn.paths.log
    )


def test_a_compressed_member_larger_than_its_manifest_says_is_refused_before_it_is_unpacked(
    run: Callable[..., Any], exchanged: Exchanged, tmp_path: Path, key_folder: Path
) -> None:
    archive = tmp_path / "vn.tar"
    back_up(run, exchanged, archive)

    def inflate_an_envelope(name: str, data: bytes) -> bytes:
        # Compresses to almost nothing: a bomb would be far larger than the manifest says.
        return data + bytes(8 << 20) if name.startswith("envelopes/") else data

    bomb = tmp_path / "bomb.tar.gz"
    bomb.write_bytes(gzip.compress(rewrite(archive, tmp_path / "big.tar", inflate_an_envelope)
                                   .read_bytes()))  # fmt: skip
    config = fresh_config(tmp_path, key_folder)
    result = restore(run, bomb, config)
    assert result.code == 30
    assert "not the size the manifest lists" in result.err
    staged = [p for p in (config.parent / "data").rglob("*") if p.is_file()]
    assert all(p.stat().st_size < (1 << 20) for p in staged)  # nothing large was written
