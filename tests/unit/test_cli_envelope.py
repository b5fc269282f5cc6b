"""liaison seal / open / verify on files: the round trip and each rejection, with exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from broker.keys.files import save_office_keys
from broker.keys.model import OfficeKeys
from broker.keys.passphrase import Kdf
from tests.demo import DIRECTORY_FILE, ROOT_FILE, make

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
ALERT = EXAMPLES / "missing-child-alert.json"
OFFICES = ("CN-YN-BLO-HK", "VN-BCA-C02", "LA-MOPS-ATD", "ES-PN-UCRIF")


@pytest.fixture(scope="module")
def keydirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("keys")
    dirs = {}
    for office in OFFICES:
        dirs[office] = root / office
        save_office_keys(OfficeKeys.generate(office, pq=True), dirs[office], kdf=Kdf.minimum())
    return dirs


def _pk(keydirs: dict[str, Path], *offices: str) -> list[str]:
    return [arg for office in offices for arg in ("--public-keys", str(keydirs[office]))]


@pytest.fixture
def sealed(tmp_path: Path, keydirs: dict[str, Path], liaison: Callable[..., object]) -> Path:
    out = tmp_path / "alert.lsn"
    result = liaison(
        "seal",
        "--from",
        str(keydirs["CN-YN-BLO-HK"]),
        *_pk(keydirs, "VN-BCA-C02", "LA-MOPS-ATD"),
        str(ALERT),
        "-o",
        str(out),
    )
    assert result.code == 0, result.err
    assert "sealed message" in result.err
    return out


def test_round_trip_to_each_recipient(sealed: Path, keydirs: dict[str, Path], liaison) -> None:
    original = json.loads(ALERT.read_text(encoding="utf-8"))
    for office in ("VN-BCA-C02", "LA-MOPS-ATD"):
        opened = liaison(
            "open", "--keys", str(keydirs[office]), *_pk(keydirs, "CN-YN-BLO-HK"), str(sealed)
        )
        assert opened.code == 0, opened.err
        assert json.loads(opened.out) == original
        assert "CN-YN-BLO-HK" in opened.err
    as_json = liaison(
        "open",
        "--json",
        "--keys",
        str(keydirs["VN-BCA-C02"]),
        *_pk(keydirs, "CN-YN-BLO-HK"),
        str(sealed),
    )
    doc = json.loads(as_json.out)
    assert doc["message"] == original
    assert doc["envelope"]["sender"] == "CN-YN-BLO-HK"
    assert doc["envelope"]["recipients"] == ["VN-BCA-C02", "LA-MOPS-ATD"]
    assert doc["envelope"]["kind"] == "enquiry"


def test_no_plaintext_in_the_envelope(sealed: Path) -> None:
    data = sealed.read_bytes()
    for fragment in ("Chén Xiǎoyàn", "陈小燕", "Hekou North Station"):
        assert fragment.encode() not in data


def test_verify_needs_only_public_keys(sealed: Path, keydirs: dict[str, Path], liaison) -> None:
    result = liaison("verify", "--json", *_pk(keydirs, "CN-YN-BLO-HK"), str(sealed))
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["sender"] == "CN-YN-BLO-HK"
    assert len(report["digest"]) == 64


def test_post_quantum_suite(tmp_path: Path, keydirs: dict[str, Path], liaison) -> None:
    out = tmp_path / "pq.lsn"
    result = liaison(
        "seal",
        "--suite",
        "liaison-v1-pq",
        "--from",
        str(keydirs["CN-YN-BLO-HK"]),
        *_pk(keydirs, "VN-BCA-C02", "LA-MOPS-ATD"),
        str(ALERT),
        "-o",
        str(out),
    )
    assert result.code == 0, result.err
    opened = liaison(
        "open",
        "--json",
        "--keys",
        str(keydirs["LA-MOPS-ATD"]),
        *_pk(keydirs, "CN-YN-BLO-HK"),
        str(out),
    )
    assert opened.code == 0, opened.err
    assert json.loads(opened.out)["envelope"]["suite"] == "liaison-v1-pq"


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda b: b[:-1] + bytes([b[-1] ^ 1]), "bad-signature"),
        (lambda b: b[: len(b) // 2], "malformed"),
        (lambda _: b"\x00garbage" * 10, "malformed"),
        (lambda b: b + bytes(16 * 1024 * 1024), "oversize"),
    ],
)
def test_damaged_envelopes_are_rejected_with_exit_10(
    sealed: Path, keydirs: dict[str, Path], liaison, damage: Callable[[bytes], bytes], reason: str
) -> None:
    sealed.write_bytes(damage(sealed.read_bytes()))
    for args in (
        ("open", "--keys", str(keydirs["VN-BCA-C02"])),
        ("verify",),
    ):
        result = liaison(*args, *_pk(keydirs, "CN-YN-BLO-HK"), str(sealed))
        assert result.code == 10
        assert f"message rejected ({reason})" in result.err


def test_rejections_by_who_and_when(sealed: Path, keydirs: dict[str, Path], liaison) -> None:
    spain = liaison(
        "open", "--keys", str(keydirs["ES-PN-UCRIF"]), *_pk(keydirs, "CN-YN-BLO-HK"), str(sealed)
    )
    assert spain.code == 10
    assert "(not-a-recipient)" in spain.err
    stranger = liaison("verify", *_pk(keydirs, "ES-PN-UCRIF"), str(sealed))
    assert stranger.code == 10
    assert "(unknown-sender)" in stranger.err
    late = liaison(
        "open",
        "--at",
        "2099-01-01T00:00:00",
        "--keys",
        str(keydirs["VN-BCA-C02"]),
        *_pk(keydirs, "CN-YN-BLO-HK"),
        str(sealed),
    )
    assert late.code == 10
    assert "(expired)" in late.err
    early = liaison(
        "open",
        "--at",
        "2020-01-01T00:00:00+08:00",
        "--keys",
        str(keydirs["VN-BCA-C02"]),
        *_pk(keydirs, "CN-YN-BLO-HK"),
        str(sealed),
    )
    assert early.code == 10
    assert "(from-the-future)" in early.err


def test_sealing_mistakes_are_input_errors(
    tmp_path: Path, keydirs: dict[str, Path], liaison
) -> None:
    out = str(tmp_path / "x.lsn")
    wrong_sender = liaison(
        "seal",
        "--from",
        str(keydirs["VN-BCA-C02"]),
        *_pk(keydirs, "LA-MOPS-ATD"),
        str(ALERT),
        "-o",
        out,
    )
    assert wrong_sender.code == 5
    assert "the message is from CN-YN-BLO-HK" in wrong_sender.err
    no_keys = liaison(
        "seal",
        "--from",
        str(keydirs["CN-YN-BLO-HK"]),
        *_pk(keydirs, "VN-BCA-C02"),
        str(ALERT),
        "-o",
        out,
    )
    assert no_keys.code == 5
    assert "no public keys for LA-MOPS-ATD" in no_keys.err
    other_to = liaison(
        "seal",
        "--from",
        str(keydirs["CN-YN-BLO-HK"]),
        "--to",
        "ES-PN-UCRIF",
        *_pk(keydirs, "ES-PN-UCRIF"),
        str(ALERT),
        "-o",
        out,
    )
    assert other_to.code == 5
    assert "addressed to VN-BCA-C02, LA-MOPS-ATD" in other_to.err
    bad = tmp_path / "bad.json"
    bad.write_text('{"enquiry_type": "ENQUIRY_TYPE_IDENTITY_CHECK", "colour": 1}', encoding="utf-8")
    invalid = liaison(
        "seal",
        "--from",
        str(keydirs["CN-YN-BLO-HK"]),
        *_pk(keydirs, "VN-BCA-C02"),
        str(bad),
        "-o",
        out,
    )
    assert invalid.code == 5
    assert not Path(out).exists()


# ---------------------------------------------------------------- with the signed directory


@pytest.fixture(scope="module")
def demo_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make.private_copy(tmp_path_factory.mktemp("demo")) / "offices"


def _trust() -> list[str]:
    return ["--directory", str(DIRECTORY_FILE), "--root", str(ROOT_FILE)]


def test_round_trip_under_the_directory(tmp_path: Path, demo_keys: Path, liaison) -> None:
    out = tmp_path / "alert.lsn"
    sealed = liaison(
        "seal", "--from", str(demo_keys / "CN-YN-BLO-HK"), *_trust(), str(ALERT), "-o", str(out)
    )
    assert sealed.code == 0, sealed.err
    opened = liaison(
        "open", "--json", "--keys", str(demo_keys / "LA-MOPS-ATD"), *_trust(), str(out)
    )
    assert opened.code == 0, opened.err
    assert json.loads(opened.out)["message"] == json.loads(ALERT.read_text(encoding="utf-8"))
    assert liaison("verify", *_trust(), str(out)).code == 0


def test_the_agreements_refuse_before_sealing(tmp_path: Path, demo_keys: Path, liaison) -> None:
    enquiry = json.loads(ALERT.read_text(encoding="utf-8"))
    enquiry["recipient_offices"] = ["ES-PN-UCRIF"]
    path = tmp_path / "to-spain.json"
    path.write_text(json.dumps(enquiry, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "never.lsn"
    result = liaison(
        "seal", "--from", str(demo_keys / "CN-YN-BLO-HK"), *_trust(), str(path), "-o", str(out)
    )
    assert result.code == 6
    assert "refused by policy rule recipient-not-party" in result.err
    assert not out.exists()


def test_directory_and_public_keys_are_alternatives(keydirs: dict[str, Path], liaison) -> None:
    both = liaison("verify", *_trust(), *_pk(keydirs, "CN-YN-BLO-HK"), str(ALERT))
    assert both.code == 2
    neither = liaison("verify", str(ALERT))
    assert neither.code == 2
    no_root = liaison("verify", "--directory", str(DIRECTORY_FILE), str(ALERT))
    assert no_root.code == 2
