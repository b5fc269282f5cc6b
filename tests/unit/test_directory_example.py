"""keys/example: the DEMO directory verifies, stays valid for years, and its keys are usable."""

from __future__ import annotations

import os
import shutil
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from broker.directory import (
    TrustState,
    accept_directory,
    compile_source,
    decode_root,
    decode_signed,
    diff_contents,
    encode_content,
)
from broker.errors import KeyFileError
from broker.keys.files import load_office_keys
from tests.demo import EXAMPLE, make

ROOT = decode_root((EXAMPLE / "root.json").read_bytes())
SIGNED = (EXAMPLE / "directory.bin").read_bytes()


def test_the_example_files_are_what_make_py_produces() -> None:
    assert make.check() == [], "run: .venv/bin/python keys/example/make.py"


def test_the_example_verifies_now_and_for_at_least_five_more_years() -> None:
    # The real clock, on purpose: this test fails when it is time to run make.py --renew.
    now = datetime.now(UTC)
    for at in (now, now + timedelta(days=5 * 366)):
        accepted = accept_directory(SIGNED, TrustState.pinned(ROOT), now=at)
        assert accepted.signers == ("DEMO-ADMIN-1", "DEMO-ADMIN-2")
    assert accepted.directory.expires_at - now > timedelta(days=5 * 366)


def test_the_example_lists_the_offices_and_agreements_of_the_domain() -> None:
    directory = accept_directory(SIGNED, TrustState.pinned(ROOT), now=datetime.now(UTC)).directory
    assert {office.id for office in directory.offices} >= {
        "CN-MPS-OCT", "CN-YN-BLO-HK", "CN-YN-BLO-MH", "VN-BCA-C02", "LA-MOPS-ATD",
        "MM-MPF-ATTF", "ES-PN-UCRIF", "DE-BKA", "EU-EUROPOL",
    }  # fmt: skip
    assert {agreement.id for agreement in directory.agreements} >= {
        "CN-VN-2009", "CN-LA-2014", "CN-MM-2009", "MEKONG-2014", "CN-ES-WG-2016",
    }  # fmt: skip
    every_office_key = [key for office in directory.offices for key in office.keys]
    now = datetime.now(UTC)
    current = [key for key in every_office_key if key.not_before <= now < key.not_after]
    assert all(key.not_after >= directory.expires_at for key in current if key.revocation is None)


def test_the_source_compiles_to_the_signed_content() -> None:
    content = compile_source((EXAMPLE / "directory.toml").read_bytes())
    assert encode_content(content) == decode_signed(SIGNED).content


def test_the_readme_says_in_bold_that_the_keys_are_demo_only() -> None:
    readme = (EXAMPLE / "README.md").read_text(encoding="utf-8")
    assert "**DEMO ONLY." in readme
    assert "never use these keys" in readme.lower()
    assert "--private-copy" in readme


def test_a_private_copy_has_the_modes_the_loader_demands(tmp_path: Path) -> None:
    copy = make.private_copy(tmp_path / "keys")
    folder = copy / "offices" / "DE-BKA"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "signing.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / "public.json").stat().st_mode) == 0o644
    keys = load_office_keys(folder)
    assert keys.has_hybrid
    assert keys.public() == make.demo_keys("DE-BKA", pq=True).public()
    admin = load_office_keys(copy / "admins" / "DEMO-ADMIN-3")
    assert ROOT.key(admin.public().signing_key_id) is not None


def test_a_key_file_as_git_checks_it_out_is_refused(tmp_path: Path) -> None:
    # What a clone gives (0644): the loader refuses it, which is why private_copy exists.
    folder = tmp_path / "clone"
    shutil.copytree(EXAMPLE / "offices" / "VN-BCA-C02", folder)
    for path in folder.iterdir():
        os.chmod(path, 0o644)  # noqa: PTH101 - the mode git gives
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_office_keys(folder)


def test_renewing_issues_the_next_edition_for_ten_years() -> None:
    edition = make.Edition.load()
    now = datetime(2031, 2, 28, 15, 30, tzinfo=UTC)
    nxt = make.renewed(edition, now)
    assert nxt.version == edition.version + 1
    assert nxt.issued_at == datetime(2031, 2, 28, tzinfo=UTC)
    assert nxt.expires_at == datetime(2041, 2, 28, tzinfo=UTC)
    leap = make.renewed(edition, datetime(2032, 2, 29, tzinfo=UTC))
    assert leap.expires_at == datetime(2042, 2, 28, tzinfo=UTC)
    files = make.build(nxt)
    state = accept_directory(SIGNED, TrustState.pinned(ROOT), now=now).state
    accepted = accept_directory(files["directory.bin"], state, now=now)
    assert accepted.directory.version == nxt.version
    current = compile_source((EXAMPLE / "directory.toml").read_bytes())
    changes = {c.text for c in diff_contents(current, compile_source(files["directory.toml"]))}
    assert f"Version {edition.version} -> {nxt.version}." in changes
