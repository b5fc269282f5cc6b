"""``liaison keys``: generate, show and check, passphrase sources, exit codes, no leaks."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from broker.cli import keys_cmd
from broker.cli.main import cli
from broker.keys.files import Kdf, is_protected, load_office_keys, load_public_keys
from broker.keys.model import OfficeKeys
from tests.conftest import CliResult

OFFICE = "CN-YN-BLO-HK"
PASSPHRASE = "tea at the border post, 9:40"

Liaison = Callable[..., CliResult]


@pytest.fixture(autouse=True)
def fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys_cmd, "GENERATE_KDF", Kdf.minimum())


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def pipe_with_passphrase() -> Iterator[int]:
    """A file descriptor whose first line is the passphrase (and a second line never read)."""
    read_end, write_end = os.pipe()
    os.write(write_end, f"{PASSPHRASE}\nsecond line\n".encode())
    os.close(write_end)
    yield read_end
    os.close(read_end)


def private_forms(keys: OfficeKeys) -> list[str]:
    raws = [keys.signing.private_bytes_raw(), keys.encryption.private_bytes_raw()]
    if keys.hybrid_mlkem is not None and keys.hybrid_x25519 is not None:
        raws.append(keys.hybrid_mlkem.private_bytes_raw() + keys.hybrid_x25519.private_bytes_raw())
        raws.append(keys.hybrid_mlkem.private_bytes_raw())
    forms = []
    for raw in raws:
        forms += [base64.b64encode(raw).decode()[:16], raw.hex()[:16], raw.hex()[:16].upper()]
    return forms


# ---------------------------------------------------------------- generate


def test_generate_writes_the_key_files_and_shows_fingerprints(
    runner: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "keys"
    result = runner.invoke(cli, ["keys", "generate", "--office", OFFICE, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["encryption.key", "public.json", "signing.key"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert stat.S_IMODE((out / "signing.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "encryption.key").stat().st_mode) == 0o600
    public = load_public_keys(out)
    assert public.office_id == OFFICE
    assert f"Generated the keys of office {OFFICE}" in result.output
    assert public.hybrid is None
    for key_id in (public.signing_key_id, public.encryption_key_id):
        grouped = " ".join(key_id.hex().upper()[i : i + 4] for i in range(0, 32, 4))
        assert grouped in result.output
    assert "NOT passphrase-protected" in result.output


def test_generate_pq_json_reports_three_keys_and_the_files(
    runner: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "keys"
    args = ["keys", "generate", "--office", OFFICE, "--out", str(out), "--pq", "--json"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["office"] == OFFICE
    assert report["protected"] is False
    assert sorted(report["keys"]) == ["encryption", "hybrid", "signing"]
    assert report["keys"]["hybrid"]["alg"] == "mlkem768-x25519"
    assert [Path(f).name for f in report["files"]] == [
        "signing.key",
        "encryption.key",
        "hybrid.key",
        "public.json",
    ]
    loaded = load_office_keys(out)
    assert loaded.has_hybrid
    assert report["keys"]["hybrid"]["key_id"] == loaded.public().hybrid_key_id.hex()  # type: ignore[union-attr]


def test_generate_with_a_passphrase_from_a_file_descriptor(
    runner: CliRunner, tmp_path: Path, pipe_with_passphrase: int
) -> None:
    out = tmp_path / "keys"
    fd = str(pipe_with_passphrase)
    args = ["keys", "generate", "--office", OFFICE, "--out", str(out), "--passphrase-fd", fd]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "passphrase-protected." in result.output
    assert is_protected(out)
    assert load_office_keys(out, passphrase=PASSPHRASE.encode()).office_id == OFFICE
    assert os.read(pipe_with_passphrase, 100) == b"second line\n"  # only one line consumed


def test_generate_and_check_with_a_passphrase_from_the_environment(
    runner: CliRunner, tmp_path: Path
) -> None:
    out = str(tmp_path / "keys")
    env = {"OFFICE_PASS": PASSPHRASE}
    generate = ["keys", "generate", "--office", OFFICE, "--out", out]
    result = runner.invoke(cli, [*generate, "--passphrase-env", "OFFICE_PASS"], env=env)
    assert result.exit_code == 0, result.output
    assert load_office_keys(Path(out), passphrase=PASSPHRASE.encode()).office_id == OFFICE
    checked = runner.invoke(
        cli, ["keys", "check", out, "--passphrase-env", "OFFICE_PASS", "--json"], env=env
    )
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.output)["loaded"] is True
    assert json.loads(checked.output)["protected"] is True


def test_ask_passphrase_prompts_twice_on_generate_and_once_on_check(
    runner: CliRunner, tmp_path: Path
) -> None:
    out = str(tmp_path / "keys")
    generate = ["keys", "generate", "--office", OFFICE, "--out", out, "--ask-passphrase"]
    result = runner.invoke(cli, generate, input=f"{PASSPHRASE}\n{PASSPHRASE}\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("Key passphrase") == 1
    assert "Repeat for confirmation" in result.output
    assert PASSPHRASE not in result.output  # hidden input
    checked = runner.invoke(
        cli, ["keys", "check", out, "--ask-passphrase"], input=f"{PASSPHRASE}\n"
    )
    assert checked.exit_code == 0, checked.output
    assert checked.output.count("Key passphrase") == 1
    assert f"The keys of office {OFFICE} in {out} load." in checked.output


def test_mismatched_confirmation_asks_again(runner: CliRunner, tmp_path: Path) -> None:
    out = str(tmp_path / "keys")
    generate = ["keys", "generate", "--office", OFFICE, "--out", out, "--ask-passphrase"]
    typed = f"{PASSPHRASE}\ntypo\n{PASSPHRASE}\n{PASSPHRASE}\n"
    result = runner.invoke(cli, generate, input=typed)
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert load_office_keys(Path(out), passphrase=PASSPHRASE.encode()).office_id == OFFICE


# ---------------------------------------------------------------- exit codes via run()


def test_generate_refuses_to_overwrite_and_exits_4(liaison: Liaison, tmp_path: Path) -> None:
    out = str(tmp_path / "keys")
    assert liaison("keys", "generate", "--office", OFFICE, "--out", out).code == 0
    before = (tmp_path / "keys" / "signing.key").read_bytes()
    again = liaison("keys", "generate", "--office", OFFICE, "--out", out)
    assert again.code == 4
    assert "signing.key already exists; refusing to overwrite keys (give --force" in again.err
    assert (tmp_path / "keys" / "signing.key").read_bytes() == before
    forced = liaison("keys", "generate", "--office", OFFICE, "--out", out, "--force")
    assert forced.code == 0
    assert (tmp_path / "keys" / "signing.key").read_bytes() != before


def test_a_loose_key_file_exits_4_with_the_fix(liaison: Liaison, tmp_path: Path) -> None:
    out = tmp_path / "keys"
    assert liaison("keys", "generate", "--office", OFFICE, "--out", str(out)).code == 0
    (out / "signing.key").chmod(0o644)
    result = liaison("keys", "check", str(out))
    assert result.code == 4
    assert f"has mode 0644, open to group or others; run: chmod 600 {out / 'signing.key'}" in (
        result.err
    )


def test_wrong_missing_and_unset_passphrases_exit_4(
    liaison: Liaison, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = str(tmp_path / "keys")
    monkeypatch.setenv("OFFICE_PASS", PASSPHRASE)
    generate = ["keys", "generate", "--office", OFFICE, "--out", out]
    assert liaison(*generate, "--passphrase-env", "OFFICE_PASS").code == 0

    monkeypatch.setenv("OFFICE_PASS", "guess")
    wrong = liaison("keys", "check", out, "--passphrase-env", "OFFICE_PASS")
    assert wrong.code == 4
    assert "wrong passphrase or corrupted key file:" in wrong.err

    missing = liaison("keys", "check", out)
    assert missing.code == 4
    assert "is passphrase-protected; give --passphrase-fd, --passphrase-env" in missing.err

    monkeypatch.delenv("OFFICE_PASS")
    unset = liaison("keys", "check", out, "--passphrase-env", "OFFICE_PASS")
    assert unset.code == 4
    assert "environment variable OFFICE_PASS is not set" in unset.err
    monkeypatch.setenv("OFFICE_PASS", "")
    empty = liaison("keys", "check", out, "--passphrase-env", "OFFICE_PASS")
    assert empty.code == 4
    assert "environment variable OFFICE_PASS is empty" in empty.err


def test_a_bad_or_empty_passphrase_fd_exits_4(liaison: Liaison, tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"\n")
    os.close(write_end)
    generate = ["keys", "generate", "--office", OFFICE, "--out", str(tmp_path / "k")]
    try:
        empty = liaison(*generate, "--passphrase-fd", str(read_end))
    finally:
        os.close(read_end)
    assert empty.code == 4
    assert f"no passphrase on file descriptor {read_end} (an empty line)" in empty.err
    closed = liaison(*generate, "--passphrase-fd", str(read_end))
    assert closed.code == 4
    assert f"cannot read the passphrase from file descriptor {read_end}" in closed.err
    assert not (tmp_path / "k").exists()


def test_two_passphrase_sources_are_a_usage_error(liaison: Liaison, tmp_path: Path) -> None:
    args = ["keys", "generate", "--office", OFFICE, "--out", str(tmp_path / "k")]
    result = liaison(*args, "--passphrase-env", "X", "--ask-passphrase")
    assert result.code == 2
    assert "give only one of --passphrase-fd, --passphrase-env and --ask-passphrase" in result.err


def test_show_of_a_missing_file_exits_4(liaison: Liaison, tmp_path: Path) -> None:
    result = liaison("keys", "show", str(tmp_path / "nope.json"))
    assert result.code == 4
    assert f"public key file {tmp_path / 'nope.json'} is missing" in result.err


# ---------------------------------------------------------------- show


def test_show_prints_office_algorithms_and_grouped_fingerprints(
    liaison: Liaison, tmp_path: Path
) -> None:
    out = tmp_path / "keys"
    assert liaison("keys", "generate", "--office", OFFICE, "--out", str(out), "--pq").code == 0
    public = load_public_keys(out)
    for target in (out, out / "public.json"):
        result = liaison("keys", "show", str(target))
        assert result.code == 0, result.err
        assert f"Office {OFFICE}" in result.out
        for alg in ("ed25519", "x25519", "mlkem768-x25519"):
            assert alg in result.out
        assert public.hybrid_key_id is not None
        for key_id in (public.signing_key_id, public.encryption_key_id, public.hybrid_key_id):
            hexed = key_id.hex().upper()
            assert " ".join(hexed[i : i + 4] for i in range(0, 32, 4)) in result.out
    assert "matches the private key files" in liaison("keys", "show", str(out)).out
    assert "matches" not in liaison("keys", "show", str(out / "public.json")).out


def test_show_json_is_one_document_with_key_ids_and_fingerprints(
    liaison: Liaison, tmp_path: Path
) -> None:
    out = tmp_path / "keys"
    assert liaison("keys", "generate", "--office", OFFICE, "--out", str(out)).code == 0
    result = liaison("keys", "show", str(out), "--json")
    assert result.code == 0
    report = json.loads(result.out)
    public = load_public_keys(out)
    assert report["office"] == OFFICE
    assert report["checked_against_private_key_files"] is True
    assert report["keys"]["signing"]["key_id"] == public.signing_key_id.hex()
    assert (
        report["keys"]["encryption"]["public_key"] == base64.b64encode(public.encryption).decode()
    )
    assert report["keys"]["signing"]["fingerprint"].replace(" ", "") == (
        public.signing_key_id.hex().upper()
    )


def test_show_needs_no_passphrase(
    liaison: Liaison, tmp_path: Path, pipe_with_passphrase: int
) -> None:
    out = tmp_path / "keys"
    args = ["--office", OFFICE, "--out", str(out), "--passphrase-fd", str(pipe_with_passphrase)]
    assert liaison("keys", "generate", *args).code == 0
    result = liaison("keys", "show", str(out))
    assert result.code == 0, result.err
    assert "matches the private key files" in result.out


def test_show_notices_a_public_json_from_another_key_set(liaison: Liaison, tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert (
            liaison("keys", "generate", "--office", OFFICE, "--out", str(tmp_path / name)).code == 0
        )
    (tmp_path / "a" / "public.json").write_bytes((tmp_path / "b" / "public.json").read_bytes())
    result = liaison("keys", "show", str(tmp_path / "a"))
    assert result.code == 4
    assert f"{tmp_path / 'a' / 'public.json'} does not list the key in" in result.err


def test_no_private_key_bytes_in_show_output_or_error_messages(
    liaison: Liaison, tmp_path: Path
) -> None:
    out = tmp_path / "keys"
    assert liaison("keys", "generate", "--office", OFFICE, "--out", str(out), "--pq").code == 0
    keys = load_office_keys(out)
    texts = []
    for args in (["show", str(out)], ["show", str(out), "--json"], ["check", str(out), "--json"]):
        result = liaison("keys", *args)
        assert result.code == 0
        texts.append(result.out + result.err)
    # Now break the files in ways whose diagnosis names a key field.
    signing = json.loads((out / "signing.key").read_text())
    signing["private_key"] = signing["private_key"][:-4]
    (out / "signing.key").write_text(json.dumps(signing))
    texts.append(liaison("keys", "check", str(out)).err)
    (out / "hybrid.key").chmod(0o640)
    texts.append(liaison("keys", "show", str(out)).err)
    texts.append(liaison("keys", "check", str(out), "--debug").err)  # even with a traceback
    assert all(texts)
    for text in texts:
        for form in private_forms(keys):
            assert form not in text


def test_keys_help_teaches_by_example(liaison: Liaison) -> None:
    result = liaison("keys", "generate", "--help")
    assert result.code == 0
    assert "liaison keys generate --office CN-YN-BLO-HK --out keys/ --ask-passphrase" in result.out
    assert "public.json      the public keys" in result.out
    assert "--passphrase-fd N" in result.out
    assert "liaison keys show keys/public.json" in liaison("keys", "--help").out
