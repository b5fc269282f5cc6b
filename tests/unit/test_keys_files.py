"""Key files on disk: round trips, modes, refusals, and diagnoses that never leak key bytes."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nacl.pwhash.argon2id
import pytest

from broker.errors import KeyFileError
from broker.keys import files
from broker.keys.files import (
    Kdf,
    existing_key_files,
    is_protected,
    load_office_keys,
    load_public_keys,
    read_key_headers,
    save_office_keys,
)
from broker.keys.model import KeyAlg, OfficeKeys, fingerprint, key_id
from broker.keys.passphrase import Unlocker

FAST = Kdf.minimum()
PASSPHRASE = "correct horse battery staple, 雲南".encode()
OFFICE = "CN-YN-BLO-HK"


def private_raws(keys: OfficeKeys) -> list[bytes]:
    """Every private key's raw bytes, as they would appear in a file."""
    raws = [keys.signing.private_bytes_raw(), keys.encryption.private_bytes_raw()]
    if keys.hybrid_mlkem is not None and keys.hybrid_x25519 is not None:
        raws.append(keys.hybrid_mlkem.private_bytes_raw() + keys.hybrid_x25519.private_bytes_raw())
    return raws


def assert_no_secret(text: str, keys: OfficeKeys, passphrase: bytes = PASSPHRASE) -> None:
    for raw in private_raws(keys):
        for form in (base64.b64encode(raw).decode(), raw.hex(), raw.hex().upper()):
            assert form not in text
        # A fragment would leak too: no 16-char run of the encodings either.
        assert base64.b64encode(raw).decode()[:16] not in text
        assert raw.hex()[:16] not in text
    assert passphrase.decode() not in text


@pytest.fixture
def keys() -> OfficeKeys:
    return OfficeKeys.generate(OFFICE, pq=True)


@pytest.fixture
def key_dir(tmp_path: Path, keys: OfficeKeys) -> Path:
    out = tmp_path / "keys"
    save_office_keys(keys, out)
    return out


@pytest.fixture
def protected_dir(tmp_path: Path, keys: OfficeKeys) -> Path:
    out = tmp_path / "protected"
    save_office_keys(keys, out, passphrase=PASSPHRASE, kdf=FAST)
    return out


def edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))
    path.chmod(0o600)


# ---------------------------------------------------------------- round trips and modes


@pytest.mark.parametrize("pq", [False, True])
@pytest.mark.parametrize("passphrase", [None, PASSPHRASE])
def test_saved_keys_load_back_identical(tmp_path: Path, pq: bool, passphrase: bytes | None) -> None:
    keys = OfficeKeys.generate(OFFICE, pq=pq)
    written = save_office_keys(keys, tmp_path / "k", passphrase=passphrase, kdf=FAST)
    names = ["signing.key", "encryption.key", *(["hybrid.key"] if pq else []), "public.json"]
    assert [path.name for path in written] == names
    loaded = load_office_keys(tmp_path / "k", passphrase=passphrase)
    assert loaded.office_id == OFFICE
    assert loaded.public() == keys.public()
    assert private_raws(loaded) == private_raws(keys)
    assert loaded.has_hybrid is pq
    assert is_protected(tmp_path / "k") is (passphrase is not None)
    assert load_public_keys(tmp_path / "k") == keys.public()
    assert load_public_keys(tmp_path / "k" / "public.json") == keys.public()


def test_an_unprotected_file_holds_the_key_in_the_documented_format(
    key_dir: Path, keys: OfficeKeys
) -> None:
    document = json.loads((key_dir / "hybrid.key").read_text())
    public = keys.public()
    assert public.hybrid is not None
    assert document == {
        "format": "liaison-private-key-v1",
        "office": OFFICE,
        "alg": "mlkem768-x25519",
        "key_id": key_id(KeyAlg.MLKEM768_X25519, public.hybrid.raw()).hex(),
        "protection": "none",
        "private_key": base64.b64encode(private_raws(keys)[2]).decode(),
    }
    entry = json.loads((key_dir / "public.json").read_text())["keys"]["signing"]
    assert entry == {
        "alg": "ed25519",
        "public_key": base64.b64encode(public.signing).decode(),
        "key_id": public.signing_key_id.hex(),
        "fingerprint": fingerprint(KeyAlg.ED25519, public.signing),
    }


def test_a_protected_file_holds_no_key_bytes_and_its_kdf_parameters(
    protected_dir: Path, keys: OfficeKeys
) -> None:
    for path in protected_dir.iterdir():
        assert_no_secret(path.read_text(), keys)
    document = json.loads((protected_dir / "signing.key").read_text())
    assert document["protection"] == "argon2id-secretbox"
    assert "private_key" not in document
    assert document["kdf"]["name"] == "argon2id13"
    assert (document["kdf"]["opslimit"], document["kdf"]["memlimit"]) == (1, 8192)
    assert len(base64.b64decode(document["nonce"])) == 24
    assert len(base64.b64decode(document["ciphertext"])) == 32 + 16


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077, 0o277])
def test_files_are_0600_public_json_0644_and_a_new_folder_0700(
    tmp_path: Path, keys: OfficeKeys, umask: int
) -> None:
    # Whatever the umask: a careless one opens nothing up, a strict one does not make
    # public.json unreadable to the administrators' tools nor the keys unwritable on --force.
    previous = os.umask(umask)
    try:
        save_office_keys(keys, tmp_path / "a" / "b")
    finally:
        os.umask(previous)
    out = tmp_path / "a" / "b"
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    for name in ("signing.key", "encryption.key", "hybrid.key"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600
    assert stat.S_IMODE((out / "public.json").stat().st_mode) == 0o644


def test_an_existing_folder_keeps_its_mode(tmp_path: Path, keys: OfficeKeys) -> None:
    tmp_path.chmod(0o750)
    save_office_keys(keys, tmp_path)
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o750
    assert stat.S_IMODE((tmp_path / "signing.key").stat().st_mode) == 0o600


def test_files_written_together_cost_one_argon2id_run(
    monkeypatch: pytest.MonkeyPatch, protected_dir: Path
) -> None:
    calls = []
    real_kdf = nacl.pwhash.argon2id.kdf

    def counting_kdf(*args: Any, **kwargs: Any) -> bytes:
        calls.append(1)
        derived: bytes = real_kdf(*args, **kwargs)
        return derived

    monkeypatch.setattr(nacl.pwhash.argon2id, "kdf", counting_kdf)
    load_office_keys(protected_dir, passphrase=PASSPHRASE)
    assert len(calls) == 1


def test_unlocker_repr_hides_the_passphrase() -> None:
    assert PASSPHRASE.decode() not in repr(Unlocker(PASSPHRASE))


# ---------------------------------------------------------------- overwriting


def test_existing_keys_are_not_overwritten(key_dir: Path, keys: OfficeKeys) -> None:
    before = {path.name: path.read_bytes() for path in key_dir.iterdir()}
    with pytest.raises(KeyFileError, match=r"signing\.key already exists; .*--force"):
        save_office_keys(OfficeKeys.generate(OFFICE), key_dir)
    assert {path.name: path.read_bytes() for path in key_dir.iterdir()} == before


def test_a_lone_public_json_also_blocks_generation(tmp_path: Path, keys: OfficeKeys) -> None:
    (tmp_path / "public.json").write_text("{}")
    with pytest.raises(KeyFileError, match=r"public\.json already exists"):
        save_office_keys(keys, tmp_path)
    assert existing_key_files(tmp_path) == [tmp_path / "public.json"]
    assert not (tmp_path / "signing.key").exists()


def test_force_replaces_keys_and_tightens_a_loosened_file(key_dir: Path) -> None:
    (key_dir / "signing.key").chmod(0o644)
    replacement = OfficeKeys.generate("VN-BCA-C02")
    save_office_keys(replacement, key_dir, force=True)
    assert stat.S_IMODE((key_dir / "signing.key").stat().st_mode) == 0o600
    assert not (key_dir / "hybrid.key").exists()  # left from the --pq set: removed
    assert sorted(path.name for path in key_dir.iterdir()) == [
        "encryption.key",
        "public.json",
        "signing.key",
    ]  # and no temporary files left behind
    assert load_office_keys(key_dir).public() == replacement.public()


def test_saving_into_a_file_is_refused(tmp_path: Path, keys: OfficeKeys) -> None:
    (tmp_path / "plain").write_text("")
    with pytest.raises(KeyFileError, match="exists and is not a directory"):
        save_office_keys(keys, tmp_path / "plain")


def test_an_empty_passphrase_is_refused(tmp_path: Path, keys: OfficeKeys) -> None:
    with pytest.raises(KeyFileError, match="empty passphrase"):
        save_office_keys(keys, tmp_path, passphrase=b"", kdf=FAST)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("office", ["", "CN YN", "../etc", "a\x1bb", "x" * 129])
def test_an_unusable_office_id_is_refused(tmp_path: Path, office: str) -> None:
    with pytest.raises(KeyFileError, match="office id"):
        save_office_keys(OfficeKeys.generate(office), tmp_path)


# ---------------------------------------------------------------- refusing unsafe files


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o620, 0o604, 0o602, 0o610])
def test_a_private_key_open_to_others_is_refused(key_dir: Path, mode: int) -> None:
    path = key_dir / "encryption.key"
    path.chmod(mode)
    with pytest.raises(KeyFileError) as caught:
        load_office_keys(key_dir)
    assert str(caught.value) == (
        f"key file {path} has mode {mode:04o}, open to group or others; run: chmod 600 {path}"
    )


def test_a_private_key_of_another_user_is_refused(
    key_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = (key_dir / "signing.key").stat().st_uid
    monkeypatch.setattr(files.os, "geteuid", lambda: owner + 1)
    with pytest.raises(KeyFileError, match=rf"signing\.key belongs to uid {owner}, not to this"):
        load_office_keys(key_dir)


def test_a_directory_in_place_of_a_key_file_is_refused(key_dir: Path) -> None:
    (key_dir / "signing.key").unlink()
    (key_dir / "signing.key").mkdir(mode=0o700)
    with pytest.raises(KeyFileError, match=r"signing\.key is not a regular file"):
        load_office_keys(key_dir)


def test_a_huge_file_is_refused(key_dir: Path) -> None:
    (key_dir / "signing.key").write_bytes(b" " * (64 * 1024 + 1))
    with pytest.raises(KeyFileError, match="larger than 65536 bytes"):
        load_office_keys(key_dir)


@pytest.mark.parametrize("name", ["signing.key", "encryption.key"])
def test_a_missing_key_file_is_named(key_dir: Path, name: str) -> None:
    (key_dir / name).unlink()
    with pytest.raises(KeyFileError) as caught:
        load_office_keys(key_dir)
    assert str(caught.value) == f"key file {key_dir / name} is missing"


def test_a_missing_public_json_is_named(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match=r"public key file .*public\.json is missing"):
        load_public_keys(tmp_path)


# ---------------------------------------------------------------- passphrases


def test_a_wrong_passphrase_is_a_key_file_error(protected_dir: Path) -> None:
    with pytest.raises(KeyFileError) as caught:
        load_office_keys(protected_dir, passphrase=b"not it")
    path = protected_dir / "signing.key"
    assert str(caught.value) == f"wrong passphrase or corrupted key file: {path}"
    assert caught.value.__cause__ is None  # no nacl exception chained behind it
    assert caught.value.__context__ is None


def test_a_protected_key_without_a_passphrase_says_how_to_give_one(protected_dir: Path) -> None:
    with pytest.raises(KeyFileError) as caught:
        load_office_keys(protected_dir)
    assert str(caught.value) == (
        f"key file {protected_dir / 'signing.key'} is passphrase-protected;"
        " give --passphrase-fd, --passphrase-env or --ask-passphrase"
    )


def test_an_altered_ciphertext_reads_as_wrong_passphrase_or_corruption(
    protected_dir: Path,
) -> None:
    def flip(document: dict[str, Any]) -> None:
        ciphertext = bytearray(base64.b64decode(document["ciphertext"]))
        ciphertext[-1] ^= 1
        document["ciphertext"] = base64.b64encode(bytes(ciphertext)).decode()

    edit(protected_dir / "encryption.key", flip)
    with pytest.raises(KeyFileError, match=r"wrong passphrase or corrupted key file: .*encryption"):
        load_office_keys(protected_dir, passphrase=PASSPHRASE)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("opslimit", 33, "opslimit 33 is outside 1..32"),
        ("opslimit", 0, "opslimit 0 is outside"),
        ("memlimit", 2**40, "memlimit 1099511627776 is not a multiple of 1024 bytes within"),
        ("memlimit", 8193, "memlimit 8193 is not a multiple of 1024"),
        ("opslimit", "3", "kdf.opslimit is not an integer"),
        ("opslimit", True, "kdf.opslimit is not an integer"),
        ("name", "scrypt", "kdf.name must be 'argon2id13'"),
        ("salt", "AAAA", "kdf.salt is 3 bytes, expected 16"),
    ],
)
def test_hostile_kdf_parameters_are_refused_before_any_work(
    protected_dir: Path, field: str, value: object, message: str
) -> None:
    edit(protected_dir / "signing.key", lambda document: document["kdf"].update({field: value}))
    with pytest.raises(KeyFileError, match=message):
        load_office_keys(protected_dir, passphrase=PASSPHRASE)


# ---------------------------------------------------------------- malformed and mixed-up files


CORRUPTIONS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("format", lambda d: d.update(format="liaison-private-key-v2"), "format is not"),
    ("alg", lambda d: d.update(alg="x25519"), "alg must be 'ed25519' in this file"),
    ("protection", lambda d: d.update(protection="rot13"), "protection must be"),
    ("office", lambda d: d.update(office=7), "office is not a string"),
    ("key_id hex", lambda d: d.update(key_id="zz" * 16), "key_id is not hex"),
    (
        "key_id spaced",
        lambda d: d.update(key_id=d["key_id"][:2] + " " + d["key_id"][2:]),
        "key_id is not hex",
    ),
    ("key_id len", lambda d: d.update(key_id="00" * 8), "key_id is 8 bytes, expected 16"),
    ("base64", lambda d: d.update(private_key="***"), "private_key is not base64"),
    ("length", lambda d: d.update(private_key="AAAA"), "private_key is 3 bytes, expected 32"),
    ("missing", lambda d: d.pop("private_key"), "private_key is missing"),
    ("unknown", lambda d: d.update(comment="hi"), "unknown field comment"),
]


@pytest.mark.parametrize(
    ("change", "message"), [c[1:] for c in CORRUPTIONS], ids=[c[0] for c in CORRUPTIONS]
)
def test_a_malformed_private_key_file_is_diagnosed(
    key_dir: Path, keys: OfficeKeys, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    edit(key_dir / "signing.key", change)
    with pytest.raises(KeyFileError, match=message) as caught:
        load_office_keys(key_dir)
    assert str(key_dir / "signing.key") in str(caught.value)
    assert_no_secret(str(caught.value), keys)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"format": ', "is not valid JSON \\(line 1\\)"),
        (b"\xff\xfe", "is not UTF-8 text"),
        (b"[1, 2]", "the document is not an object"),
        (b"[" * 100_000, "nested too deeply|not valid JSON"),
    ],
)
def test_a_file_that_is_not_a_json_object_is_diagnosed(
    key_dir: Path, content: bytes, message: str
) -> None:
    (key_dir / "signing.key").write_bytes(content[: 64 * 1024])
    with pytest.raises(KeyFileError, match=message):
        load_office_keys(key_dir)


def test_a_key_that_does_not_match_its_key_id_is_refused(key_dir: Path, keys: OfficeKeys) -> None:
    other = OfficeKeys.generate(OFFICE).signing.private_bytes_raw()
    edit(key_dir / "signing.key", lambda d: d.update(private_key=base64.b64encode(other).decode()))
    with pytest.raises(KeyFileError) as caught:
        load_office_keys(key_dir)
    assert str(caught.value) == (
        f"{key_dir / 'signing.key'}: the key does not match the file's key_id (mixed-up file?)"
    )
    assert_no_secret(str(caught.value), keys)


def test_swapped_key_files_are_refused(key_dir: Path) -> None:
    (key_dir / "signing.key").rename(key_dir / "tmp")
    (key_dir / "encryption.key").rename(key_dir / "signing.key")
    (key_dir / "tmp").rename(key_dir / "encryption.key")
    with pytest.raises(KeyFileError, match=r"signing\.key: alg must be 'ed25519'"):
        load_office_keys(key_dir)


def test_a_key_file_of_another_office_is_refused(key_dir: Path, tmp_path: Path) -> None:
    save_office_keys(OfficeKeys.generate("VN-BCA-C02"), tmp_path / "other")
    shutil.copy2(tmp_path / "other" / "encryption.key", key_dir / "encryption.key")
    with pytest.raises(KeyFileError, match="is a key of office VN-BCA-C02, not of office CN-YN"):
        load_office_keys(key_dir)


def test_a_key_file_from_another_key_set_is_caught_by_public_json(
    key_dir: Path, tmp_path: Path
) -> None:
    save_office_keys(OfficeKeys.generate(OFFICE), tmp_path / "other")
    shutil.copy2(tmp_path / "other" / "encryption.key", key_dir / "encryption.key")
    with pytest.raises(KeyFileError, match=r"public\.json does not list the keys in"):
        load_office_keys(key_dir)


def test_keys_load_without_public_json(key_dir: Path, keys: OfficeKeys) -> None:
    (key_dir / "public.json").unlink()
    assert load_office_keys(key_dir).public() == keys.public()


PUBLIC_CORRUPTIONS: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("format", lambda d: d.update(format="x"), "format is not 'liaison-public-keys-v1'"),
    ("unknown use", lambda d: d["keys"].update(other={}), "unknown field keys.other"),
    ("no signing", lambda d: d["keys"].pop("signing"), "keys.signing is missing"),
    ("alg", lambda d: d["keys"]["signing"].update(alg="x25519"), "keys.signing.alg must be"),
    (
        "key",
        lambda d: d["keys"]["encryption"].update(public_key=base64.b64encode(b"\1" * 32).decode()),
        "keys.encryption.key_id is not the id of its public key",
    ),
    (
        "fingerprint",
        lambda d: d["keys"]["signing"].update(fingerprint="0000"),
        "keys.signing.fingerprint is not that of its public key",
    ),
    (
        "hybrid length",
        lambda d: d["keys"]["hybrid"].update(public_key="AAAA"),
        "keys.hybrid.public_key is 3 bytes, expected 1216",
    ),
    ("keys type", lambda d: d.update(keys=[]), "keys is not an object"),
]


@pytest.mark.parametrize(
    ("change", "message"),
    [c[1:] for c in PUBLIC_CORRUPTIONS],
    ids=[c[0] for c in PUBLIC_CORRUPTIONS],
)
def test_a_malformed_public_json_is_diagnosed(
    key_dir: Path, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    edit(key_dir / "public.json", change)
    with pytest.raises(KeyFileError, match=message):
        load_public_keys(key_dir / "public.json")


def test_public_json_fingerprint_is_optional(key_dir: Path, keys: OfficeKeys) -> None:
    edit(key_dir / "public.json", lambda d: d["keys"]["signing"].pop("fingerprint"))
    assert load_public_keys(key_dir) == keys.public()


def test_headers_are_read_without_decrypting(protected_dir: Path, keys: OfficeKeys) -> None:
    headers = read_key_headers(protected_dir)
    public = keys.public()
    assert [(h.path.name, h.alg, h.key_id, h.protection) for h in headers] == [
        ("signing.key", KeyAlg.ED25519, public.signing_key_id, "argon2id-secretbox"),
        ("encryption.key", KeyAlg.X25519, public.encryption_key_id, "argon2id-secretbox"),
        ("hybrid.key", KeyAlg.MLKEM768_X25519, public.hybrid_key_id, "argon2id-secretbox"),
    ]


@pytest.fixture
def every_failure(key_dir: Path, protected_dir: Path) -> list[KeyFileError]:
    """Trigger many failures and collect their errors."""
    failures: list[KeyFileError] = []

    def attempt(call: Callable[[], object]) -> None:
        try:
            call()
        except KeyFileError as exc:
            failures.append(exc)

    attempt(lambda: load_office_keys(protected_dir, passphrase=PASSPHRASE[:-1]))
    attempt(lambda: load_office_keys(protected_dir))
    (key_dir / "hybrid.key").chmod(0o644)
    attempt(lambda: load_office_keys(key_dir))
    edit(key_dir / "hybrid.key", lambda d: d.update(private_key=d["private_key"][:-4]))
    attempt(lambda: load_office_keys(key_dir))
    edit(key_dir / "hybrid.key", lambda d: d.update(key_id="00" * 16))
    attempt(lambda: load_office_keys(key_dir))
    return failures


def test_no_diagnosis_holds_key_bytes_or_the_passphrase(
    every_failure: list[KeyFileError], keys: OfficeKeys
) -> None:
    assert len(every_failure) == 5
    for failure in every_failure:
        assert_no_secret(str(failure) + repr(failure), keys)
