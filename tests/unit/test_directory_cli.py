"""``liaison directory``: build, sign, verify, show, diff and root, with their exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from broker.cli.directory_cmd import directory
from broker.cli.main import cli
from broker.directory import compile_source, decode_signed, encode_content
from broker.keys.files import Kdf, save_office_keys
from broker.keys.model import OfficeKeys
from tests.conftest import CliResult
from tests.unit.test_directory_example import EXAMPLE, make

SOURCE = EXAMPLE / "directory.toml"
ROOT = EXAMPLE / "root.json"
SIGNED = EXAMPLE / "directory.bin"
Liaison = Callable[..., CliResult]


@pytest.fixture
def liaison(liaison: Liaison, monkeypatch: pytest.MonkeyPatch) -> Liaison:
    """The real entry point (exit codes, error printing) with this group registered."""
    monkeypatch.setitem(cli.commands, "directory", directory)
    return liaison


@pytest.fixture
def admins(tmp_path: Path) -> Path:
    return make.private_copy(tmp_path / "keys") / "admins"


def run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(directory, [str(arg) for arg in args])
    return result.exit_code, result.output


def test_build_sign_verify_round_trip(tmp_path: Path, admins: Path) -> None:
    out = tmp_path / "d.bin"
    code, text = run("build", SOURCE, "-o", out)
    assert code == 0, text
    assert "Built" in text
    assert "2 of 3 administrators must now run 'liaison directory sign'" in text
    assert decode_signed(out.read_bytes()).signatures == ()
    for admin in ("DEMO-ADMIN-3", "DEMO-ADMIN-1"):
        code, text = run("sign", out, "--key", admins / admin)
        assert code == 0, text
        assert f"with {admin}" in text
    code, text = run("verify", out, "--root", ROOT, "--at", "2027-01-01")
    assert code == 0, text
    assert "Accepted" in text
    assert "Signed by DEMO-ADMIN-1, DEMO-ADMIN-3." in text
    # Same content as the committed example, signed by other administrators.
    assert decode_signed(out.read_bytes()).content == decode_signed(SIGNED.read_bytes()).content


def test_sign_refuses_a_second_signature_by_the_same_key(
    tmp_path: Path, admins: Path, liaison: Liaison
) -> None:
    out = tmp_path / "d.bin"
    out.write_bytes(SIGNED.read_bytes())
    result = liaison("directory", "sign", str(out), "--key", str(admins / "DEMO-ADMIN-1"))
    assert result.code == 5
    assert "already signed by key" in result.err
    assert out.read_bytes() == SIGNED.read_bytes()


def test_sign_notes_a_key_outside_the_root_and_writes_elsewhere(
    tmp_path: Path, admins: Path, liaison: Liaison
) -> None:
    office_keys = admins.parent / "offices" / "DE-BKA"
    code, text = run("sign", SIGNED, "--key", office_keys, "-o", tmp_path / "x.bin", "--json")
    assert code == 0, text
    report = json.loads(text)
    assert report["in_root"] is False
    assert report["signatures"] == 3
    assert report["signed_by"] == "DE-BKA"
    again = liaison("directory", "sign", str(SIGNED), "--key", str(office_keys),
                    "-o", str(tmp_path / "x.bin"))  # fmt: skip
    assert again.code == 3
    assert "already exists" in again.err


def test_sign_with_a_passphrase_protected_administrator_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = OfficeKeys.from_seeds("DEMO-ADMIN-3", signing=make.seed("DEMO-ADMIN-3", "signing"),
                                 encryption=make.seed("DEMO-ADMIN-3", "encryption"))  # fmt: skip
    save_office_keys(keys, tmp_path / "admin", passphrase=b"demo words", kdf=Kdf.minimum())
    out = tmp_path / "d.bin"
    out.write_bytes(SIGNED.read_bytes())
    monkeypatch.setenv("ADMIN_PASS", "demo words")
    code, text = run("sign", out, "--key", tmp_path / "admin", "--passphrase-env", "ADMIN_PASS")
    assert code == 0, text
    assert len(decode_signed(out.read_bytes()).signatures) == 3


def test_a_source_with_mistakes_exits_3_listing_each(tmp_path: Path, liaison: Liaison) -> None:
    bad = tmp_path / "bad.toml"
    text = SOURCE.read_text(encoding="utf-8")
    bad.write_text(text.replace('country = "CHN"', 'country = "XXX"', 1).replace(
        'time_zone = "Europe/Berlin"', 'time_zone = "Berlin time"'), encoding="utf-8")  # fmt: skip
    result = liaison("directory", "build", str(bad), "-o", str(tmp_path / "d.bin"))
    assert result.code == 3
    assert "2 problems" in result.err
    assert "offices[0].country: 'XXX' is not an ISO 3166-1 alpha-3 code" in result.err
    assert "offices[7].time_zone: 'Berlin time' is not an IANA time zone" in result.err
    assert not (tmp_path / "d.bin").exists()


@pytest.mark.parametrize(
    ("args", "code", "phrase"),
    [
        (["--at", "2037-01-01"], 30, "directory refused (expired)"),
        (["--at", "soon"], 2, "is not a time like"),
        ([], 0, "Accepted"),
    ],
)
def test_verify_exit_codes(liaison: Liaison, args: list[str], code: int, phrase: str) -> None:
    result = liaison("directory", "verify", str(SIGNED), "--root", str(ROOT), *args)
    assert result.code == code, result.err
    assert phrase in result.out + result.err


def test_verify_refuses_below_threshold_with_exit_30(tmp_path: Path, liaison: Liaison) -> None:
    code, _ = run("build", SOURCE, "-o", tmp_path / "d.bin")
    assert code == 0
    result = liaison("directory", "verify", str(tmp_path / "d.bin"), "--root", str(ROOT))
    assert result.code == 30
    assert "directory refused (below-threshold): 0 valid signature(s)" in result.err


def test_verify_needs_a_root_or_a_state(tmp_path: Path, liaison: Liaison) -> None:
    result = liaison("directory", "verify", str(SIGNED), "--state", str(tmp_path))
    assert result.code == 2
    assert "give --root" in result.err


def test_verify_with_an_office_state_catches_a_rollback(
    tmp_path: Path, admins: Path, liaison: Liaison
) -> None:
    # The office accepted edition 2; edition 1 (the committed example) is then a rollback.
    from broker.directory.store import load_office_directory  # noqa: PLC0415

    now = datetime(2027, 1, 1, tzinfo=UTC)
    edition = make.renewed(make.Edition.load(), now)
    newer = tmp_path / "newer.bin"
    newer.write_bytes(make.build(edition)["directory.bin"])
    load_office_directory(newer, tmp_path / "data", pinned_root=ROOT, now=now)
    result = liaison("directory", "verify", str(SIGNED), "--state", str(tmp_path / "data"),
                     "--at", "2027-01-01T00:00:00Z")  # fmt: skip
    assert result.code == 30
    assert "directory refused (rollback)" in result.err
    ok = liaison("directory", "verify", str(newer), "--state", str(tmp_path / "data"), "--json")
    assert ok.code == 0
    report = json.loads(ok.out)
    assert report["accepted"] is True
    assert report["version"] == edition.version
    assert report["signers"] == ["DEMO-ADMIN-1", "DEMO-ADMIN-2"]


def test_verify_warns_when_expiry_is_near() -> None:
    expires = datetime.fromisoformat("2036-11-01T00:00:00+00:00")
    at = (expires - timedelta(days=10)).isoformat()
    code, text = run("verify", SIGNED, "--root", ROOT, "--at", at)
    assert code == 0
    assert "Warning: it expires in 10 days; re-sign it." in text


def test_show_tells_what_is_inside() -> None:
    code, text = run("show", SIGNED, "--at", "2027-01-01")
    assert code == 0, text
    assert "version 1, 9 offices, 6 agreements" in text
    assert "signatures present (not verified here): DEMO-ADMIN-1, DEMO-ADMIN-2" in text
    assert "CN-ES-WG-2016  China - Spain working group" in text
    assert "priority up to high" in text


def test_show_one_office_with_key_status() -> None:
    code, text = run("show", SIGNED, "--office", "LA-MOPS-ATD", "--at", "2027-01-01")
    assert code == 0, text
    assert "revoked (revoked 2026-11-01 00:00 UTC, key-compromise)" in text
    code, text = run("show", SIGNED, "--office", "LA-MOPS-ATD", "--json", "--at", "2027-01-01")
    statuses = sorted(key["status"] for key in json.loads(text)["keys"])
    assert statuses == ["revoked", "valid", "valid"]


def test_show_an_unknown_office_exits_5(liaison: Liaison) -> None:
    result = liaison("directory", "show", str(SIGNED), "--office", "XX-NOWHERE")
    assert result.code == 5
    assert "office XX-NOWHERE is not in" in result.err


def test_show_as_json_and_as_source() -> None:
    code, text = run("show", SIGNED, "--json")
    document = json.loads(text)
    assert document["version"] == 1
    assert [s["name"] for s in document["signatures"]] == ["DEMO-ADMIN-1", "DEMO-ADMIN-2"]
    assert len(document["offices"]) == 9
    code, text = run("show", SIGNED, "--source")
    assert code == 0
    assert encode_content(compile_source(text)) == decode_signed(SIGNED.read_bytes()).content


def test_diff_in_plain_language(tmp_path: Path) -> None:
    changed = tmp_path / "next.toml"
    text = SOURCE.read_text(encoding="utf-8").replace("version = 1", "version = 2")
    text = text.replace('max_priority = "high"', 'max_priority = "urgent"')
    changed.write_text(text, encoding="utf-8")
    code, out = run("diff", SIGNED, changed)
    assert code == 0, out
    assert "- Version 1 -> 2." in out
    assert "- Agreement CN-ES-WG-2016: maximum priority now urgent (was high)." in out
    code, out = run("diff", SIGNED, changed, "--json")
    kinds = [change["kind"] for change in json.loads(out)]
    assert kinds == ["version", "agreement-changed"]
    assert run("diff", SIGNED, SOURCE)[1] == "No differences.\n"


def test_root_writes_the_pinned_root(tmp_path: Path, liaison: Liaison) -> None:
    out = tmp_path / "root.json"
    code, text = run("root", SIGNED, "-o", out)
    assert code == 0, text
    assert out.read_bytes() == ROOT.read_bytes()
    assert "2F90 A703 9594 0E5E BFE5 60CD AC66 C407" in text
    again = liaison("directory", "root", str(SIGNED), "-o", str(out))
    assert again.code == 3
    assert "already exists" in again.err


def test_a_file_that_is_not_a_directory_exits_5(tmp_path: Path, liaison: Liaison) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\xff\x00junk")
    result = liaison("directory", "show", str(junk))
    assert result.code == 5
    assert "not a valid signed directory encoding" in result.err


def test_the_group_explains_itself(liaison: Liaison) -> None:
    result = liaison("directory", "--help")
    assert result.code == 0
    for command in ("build", "sign", "verify", "show", "diff", "root"):
        assert f"  {command}" in result.out
