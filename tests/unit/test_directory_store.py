"""The directory files on disk: persisted state, running on the last good directory, anchors."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from broker.directory import (
    TrustState,
    decode_root,
    decode_state,
    encode_content,
    encode_root,
    encode_state,
    refusal_rule,
)
from broker.directory.store import (
    ACCEPTED_FILE,
    STATE_FILE,
    OfficeDirectory,
    load_office_directory,
    read_directory_file,
    read_pinned_root,
    read_state,
    write_file,
)
from broker.directory.trust import DirectoryLimits
from broker.errors import ConfigError, IntegrityError
from tests.vectors import generate_directory as vec

AT = vec.AT
A1, A2, A3 = vec.ADMINS_A
ROOT_A = vec.root(vec.ADMINS_A)


def signed(version: int, *names: str, issuer: str | None = None) -> bytes:
    content = vec.content(version, ROOT_A)
    if issuer is not None:
        content = replace(content, issuer=issuer)
    return vec.signed(encode_content(content), *names)


@pytest.fixture
def office(tmp_path: Path) -> dict[str, Path]:
    root = tmp_path / "root.json"
    root.write_bytes(encode_root(ROOT_A))
    return {"file": tmp_path / "directory.bin", "data": tmp_path / "data", "root": root}


def load(office: dict[str, Path], data: bytes, **kw: object) -> OfficeDirectory:
    office["file"].write_bytes(data)
    return load_office_directory(
        office["file"],
        office["data"],
        pinned_root=office["root"],
        now=AT,
        **kw,  # type: ignore[arg-type]
    )


def test_the_first_directory_is_accepted_by_the_pinned_root_and_remembered(
    office: dict[str, Path],
) -> None:
    result = load(office, signed(1, A1, A2))
    assert result.directory.version == 1
    assert result.refusal is None
    assert result.newly_accepted
    state = read_state(office["data"])
    assert state is not None
    assert state.version == 1
    assert state.content_digest == result.directory.digest
    assert (office["data"] / ACCEPTED_FILE).read_bytes() == signed(1, A1, A2)
    assert sorted(p.name for p in office["data"].iterdir()) == [ACCEPTED_FILE, STATE_FILE]


def test_loading_the_same_directory_again_changes_nothing(office: dict[str, Path]) -> None:
    load(office, signed(1, A1, A2))
    before = (office["data"] / STATE_FILE).stat().st_mtime_ns
    again = load(office, signed(1, A1, A2))
    assert not again.newly_accepted
    assert again.refusal is None
    assert (office["data"] / STATE_FILE).stat().st_mtime_ns == before


def test_a_refused_directory_leaves_the_office_on_its_last_good_one(
    office: dict[str, Path],
) -> None:
    load(office, signed(2, A1, A2))
    for bad, rule in [
        (signed(1, A1, A2), "rollback"),
        (signed(3, A1), "below-threshold"),
        (signed(2, A1, A2, issuer="Forged v2"), "version-conflict"),
        (b"junk", "malformed"),
    ]:
        result = load(office, bad)
        assert result.directory.version == 2
        assert not result.newly_accepted
        assert result.refusal is not None
        assert refusal_rule(result.refusal) is not None
        assert refusal_rule(result.refusal).value == rule  # type: ignore[union-attr]
    assert read_state(office["data"]).version == 2  # type: ignore[union-attr]


def test_the_state_not_the_pinned_root_is_trusted_once_there_is_one(
    office: dict[str, Path],
) -> None:
    load(office, signed(1, A1, A2))
    office["root"].write_bytes(encode_root(vec.root(vec.ADMINS_B)))  # ignored from now on
    assert load(office, signed(2, A2, A3)).directory.version == 2


def test_with_nothing_to_fall_back_on_the_refusal_is_raised(office: dict[str, Path]) -> None:
    with pytest.raises(IntegrityError, match=r"\(below-threshold\)"):
        load(office, signed(1, A1))
    assert not office["data"].exists()


def test_an_expired_last_good_directory_is_no_fallback(office: dict[str, Path]) -> None:
    load(office, signed(1, A1, A2))
    office["file"].write_bytes(signed(1, A1))
    with pytest.raises(IntegrityError, match="last accepted directory cannot be used either"):
        load_office_directory(
            office["file"], office["data"], pinned_root=office["root"], now=vec.EXPIRES
        )


def test_an_office_without_state_needs_a_pinned_root(office: dict[str, Path]) -> None:
    office["file"].write_bytes(signed(1, A1, A2))
    with pytest.raises(ConfigError, match="no pinned root configured"):
        load_office_directory(office["file"], office["data"], pinned_root=None, now=AT)


def test_a_too_large_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.bin"
    path.write_bytes(b"\x00" * 101)
    with pytest.raises(IntegrityError, match=r"\(oversize\)"):
        read_directory_file(path, limits=DirectoryLimits(max_bytes=100))
    assert read_directory_file(path, limits=DirectoryLimits(max_bytes=101)) == b"\x00" * 101


def test_missing_and_odd_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is missing"):
        read_directory_file(tmp_path / "nope.bin")
    with pytest.raises(ConfigError, match="cannot read pinned root"):
        read_pinned_root(tmp_path)
    with pytest.raises(ConfigError, match="not a regular file"):
        read_pinned_root(Path(os.devnull))


def test_write_file_is_atomic_and_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    path = tmp_path / "out.bin"
    write_file(path, b"one", force=False)
    with pytest.raises(ConfigError, match="already exists"):
        write_file(path, b"two", force=False)
    write_file(path, b"two", force=True)
    assert path.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]  # no temporary file left behind
    with pytest.raises(ConfigError, match="cannot write"):
        write_file(tmp_path / "missing" / "x.bin", b"", force=True)


# ---------------------------------------------------------------- the anchors' formats


def test_the_pinned_root_and_state_round_trip() -> None:
    assert decode_root(encode_root(ROOT_A)) == ROOT_A
    state = TrustState(ROOT_A, 7, bytes(range(32)))
    assert decode_state(encode_state(state)) == state
    document = json.loads(encode_root(ROOT_A))
    assert document["format"] == "liaison-directory-root-v1"
    assert document["keys"][0]["fingerprint"].count(" ") == 7


def _root_doc(**change: object) -> bytes:
    document = json.loads(encode_root(ROOT_A))
    for path, value in change.items():
        target = document
        *parents, last = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        key: int | str = int(last) if last.isdigit() else last
        target[key] = value
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("data", "phrase"),
    [
        (b"[]", "the document is not an object"),
        (b"{", "is not valid JSON"),
        (b"\xff", "is not UTF-8"),
        (b"[" * 100_000, "nested too deeply"),
        (_root_doc(format="x"), "format is not 'liaison-directory-root-v1'"),
        (_root_doc(extra=1), "unknown field extra"),
        (_root_doc(threshold=4), "threshold must be between 1 and 3"),
        (_root_doc(threshold=True), "threshold is not an integer"),
        (_root_doc(keys=[]), "keys must list 1 to 32 keys"),
        (_root_doc(keys__0__alg="x25519"), "keys[0].alg must be 'ed25519'"),
        (_root_doc(keys__0__public_key="???"), "keys[0].public_key is not base64"),
        (_root_doc(keys__0__public_key="AAAA"), "is not a 32-byte Ed25519 key"),
        (_root_doc(keys__0__key_id="00" * 16), "keys[0].key_id is not the id of public_key"),
        (_root_doc(keys__0__fingerprint="0000"), "keys[0].fingerprint is not that of"),
        (_root_doc(keys__0__name="no spaces allowed"), "keys[0].name is not an administrator"),
        (_root_doc(keys__0__colour="red"), "unknown field keys[0].colour"),
        (_root_doc(keys__0=3), "keys[0] is not an object"),
    ],
)
def test_a_bad_pinned_root_is_a_config_error_naming_the_field(data: bytes, phrase: str) -> None:
    with pytest.raises(ConfigError) as caught:
        decode_root(data)
    assert phrase in caught.value.diagnosis


def test_a_duplicated_root_key_is_refused() -> None:
    document = json.loads(encode_root(ROOT_A))
    document["keys"].append(dict(document["keys"][0], name="TWIN"))
    with pytest.raises(ConfigError, match="lists a key twice"):
        decode_root(json.dumps(document).encode())


@pytest.mark.parametrize(
    ("change", "phrase"),
    [
        ({"format": "x"}, "format is not"),
        ({"version": 0}, "version is not a positive integer"),
        ({"version": "1"}, "version is not a positive integer"),
        ({"content_sha256": "abc"}, "content_sha256 is not 64 hex digits"),
        ({"content_sha256": "zz" * 32}, "content_sha256 is not 64 hex digits"),
        ({"root": {"format": "liaison-directory-root-v1"}}, "root.keys must list"),
        ({"root": 1}, "root.is not an object"),
        ({"other": 1}, "unknown field other"),
    ],
)
def test_a_damaged_state_is_an_integrity_error(change: dict[str, object], phrase: str) -> None:
    document = json.loads(encode_state(TrustState(ROOT_A, 1, bytes(32))))
    document.update(change)
    with pytest.raises(IntegrityError) as caught:
        decode_state(json.dumps(document).encode())
    assert phrase in caught.value.diagnosis


def test_a_damaged_state_file_stops_the_office(office: dict[str, Path]) -> None:
    load(office, signed(1, A1, A2))
    (office["data"] / STATE_FILE).write_text("{}", encoding="utf-8")
    with pytest.raises(IntegrityError, match=r"directory-state\.json"):
        load(office, signed(1, A1, A2))


def test_an_oversize_anchor_is_refused_unparsed() -> None:
    with pytest.raises(ConfigError, match="is larger than"):
        decode_root(b" " * (256 * 1024 + 1))
