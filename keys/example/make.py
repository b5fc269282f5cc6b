"""Make the DEMO example directory in keys/example/, check it, renew it, or copy its demo keys.

    python keys/example/make.py                    regenerate every file (same bytes every time)
    python keys/example/make.py --check            regenerate in memory; exit 1 on any difference
    python keys/example/make.py --renew            new edition: version + 1, issued today (UTC),
                                                   expires in 10 years; re-signs everything
    python keys/example/make.py --private-copy DIR copy the demo key folders to DIR with the
                                                   modes the key loader demands (0700 / 0600)

DEMO ONLY: every private key here is derived from a public seed and published on the internet.
Never use these keys, this root or this directory for real cases.

Everything is deterministic: keys come from SHAKE-256 over a fixed label, the owner and the
key's role; times come from ``edition.json`` (which ``--renew`` rewrites). Git keeps files as
0644, so the private key files lose their 0600 mode in a clone and the loader rightly refuses
them: use ``--private-copy`` (or ``private_copy()``) to get a usable copy.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519, mlkem, x25519

from broker.directory import (
    Adapter,
    AdminKey,
    Agreement,
    DataCategory,
    DirectoryContent,
    KeyUse,
    Office,
    OfficeKey,
    Revocation,
    RevocationReason,
    Root,
    Routing,
    add_signature,
    build_unsigned,
    encode_root,
    render_source,
)
from broker.envelope.suite import Suite
from broker.keys.files import save_office_keys
from broker.keys.model import OfficeKeys
from broker.model.codes import EnquiryType, Handling, Priority

HERE = Path(__file__).resolve().parent
EDITION = HERE / "edition.json"
SEED_LABEL = b"liaison DEMO ONLY example key"
ADMINS = ("DEMO-ADMIN-1", "DEMO-ADMIN-2", "DEMO-ADMIN-3")
SIGNERS = ("DEMO-ADMIN-1", "DEMO-ADMIN-2")  # two of three: the threshold
THRESHOLD = 2
RENEW_YEARS = 10
DIRECTORY_FILE = "directory.bin"
SOURCE_FILE = "directory.toml"
ROOT_FILE = "root.json"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@dataclass(frozen=True)
class Edition:
    version: int
    issued_at: datetime
    expires_at: datetime

    @classmethod
    def load(cls) -> Edition:
        doc = json.loads(EDITION.read_text(encoding="utf-8"))
        return cls(doc["version"], utc(doc["issued_at"]), utc(doc["expires_at"]))

    def dump(self) -> str:
        doc = {
            "version": self.version,
            "issued_at": self.issued_at.isoformat().replace("+00:00", "Z"),
            "expires_at": self.expires_at.isoformat().replace("+00:00", "Z"),
        }
        return json.dumps(doc, indent=2) + "\n"


def seed(owner: str, role: str, length: int = 32) -> bytes:
    return hashlib.shake_256(SEED_LABEL + b"\x00" + f"{owner}\x00{role}".encode()).digest(length)


def demo_keys(owner: str, *, pq: bool = False) -> OfficeKeys:
    """The current DEMO key set of an office or administrator."""
    return OfficeKeys.from_seeds(
        owner,
        signing=seed(owner, "signing"),
        encryption=seed(owner, "encryption"),
        hybrid_mlkem=seed(owner, "hybrid-mlkem", 64) if pq else None,
        hybrid_x25519=seed(owner, "hybrid-x25519") if pq else None,
    )


def old_public(owner: str, role: str, use: KeyUse) -> bytes:
    """The public half of a retired DEMO key (only its public key is in the directory)."""
    if use is KeyUse.SIGNING:
        private = ed25519.Ed25519PrivateKey.from_private_bytes(seed(owner, role))
        return private.public_key().public_bytes_raw()
    if use is KeyUse.ENCRYPTION:
        return (
            x25519.X25519PrivateKey.from_private_bytes(seed(owner, role))
            .public_key()
            .public_bytes_raw()
        )
    mlkem_key = mlkem.MLKEM768PrivateKey.from_seed_bytes(seed(owner, f"{role}-mlkem", 64))
    x_key = x25519.X25519PrivateKey.from_private_bytes(seed(owner, f"{role}-x25519"))
    return mlkem_key.public_key().public_bytes_raw() + x_key.public_key().public_bytes_raw()


# ---------------------------------------------------------------- the offices


@dataclass(frozen=True)
class Demo:
    office_id: str
    names: tuple[tuple[str, str], ...]
    country: str
    time_zone: str
    languages: tuple[str, ...]
    adapter: Adapter
    routing: Routing
    pq: bool = False


DEMO_CONTACT = "+00 0000 0000 (DEMO duty desk, not a real number)"

OFFICES = (
    Demo(
        "CN-MPS-OCT",
        (("en", "Ministry of Public Security, Office to Combat Trafficking (DEMO)"),
         ("zh-Hans", "公安部打击拐卖犯罪办公室 (DEMO)")),
        "CHN", "Asia/Shanghai", ("zh-Hans", "en"),
        Adapter("native"), Routing("beijing", "beijing-1"),
    ),
    Demo(
        "CN-YN-BLO-HK",
        (("en", "Yunnan Border Liaison Office, Hekou (DEMO)"),
         ("vi", "Văn phòng liên lạc biên giới Hà Khẩu (DEMO)"),
         ("zh-Hans", "云南河口边境联络办公室 (DEMO)")),
        "CHN", "Asia/Shanghai", ("zh-Hans", "vi", "en"),
        Adapter("bilingual-sheet", (("inbox", "/srv/liaison/hk/inbox"),
                                    ("sheet-languages", "zh-Hans,vi"))),
        Routing("yunnan", "kunming-1"),
    ),
    Demo(
        "CN-YN-BLO-MH",
        (("en", "Yunnan Border Liaison Office, Mohan (DEMO)"),
         ("zh-Hans", "云南磨憨边境联络办公室 (DEMO)")),
        "CHN", "Asia/Shanghai", ("zh-Hans", "lo", "en"),
        Adapter("bilingual-sheet", (("inbox", "/srv/liaison/mh/inbox"),
                                    ("sheet-languages", "zh-Hans,lo"))),
        Routing("yunnan", "kunming-1"),
    ),
    Demo(
        "VN-BCA-C02",
        (("en", "Ministry of Public Security of Viet Nam, Criminal Police Department (DEMO)"),
         ("vi", "Bộ Công an, Cục Cảnh sát hình sự (C02) (DEMO)")),
        "VNM", "Asia/Ho_Chi_Minh", ("vi", "en"),
        Adapter("umf-xml", (("endpoint", "https://c02.example.invalid/umf"),)),
        Routing("hanoi", "hanoi-1"),
    ),
    Demo(
        "LA-MOPS-ATD",
        (("en", "Lao Ministry of Public Security, Anti-Trafficking Department (DEMO)"),),
        "LAO", "Asia/Vientiane", ("lo", "en"),
        Adapter("json-http", (("endpoint", "https://atd.example.invalid/liaison"),)),
        Routing("vientiane", "vientiane-1"),
    ),
    Demo(
        "MM-MPF-ATTF",
        (("en", "Myanmar Police Force, Anti-Trafficking in Persons Task Force (DEMO)"),),
        "MMR", "Asia/Yangon", ("my", "en"),
        Adapter("bilingual-sheet", (("inbox", "/srv/liaison/mm/inbox"),
                                    ("sheet-languages", "my,en"))),
        Routing("yangon", "yangon-1"),
    ),
    Demo(
        "ES-PN-UCRIF",
        (("en", "Spanish National Police, UCRIF (DEMO)"),
         ("es", "Policía Nacional, Unidad Central de Redes de Inmigración Ilegal (DEMO)")),
        "ESP", "Europe/Madrid", ("es", "en"),
        Adapter("umf-xml", (("endpoint", "https://ucrif.example.invalid/umf"),)),
        Routing("madrid", "madrid-1"),
    ),
    Demo(
        "DE-BKA",
        (("de", "Bundeskriminalamt (DEMO)"), ("en", "Federal Criminal Police Office (DEMO)")),
        "DEU", "Europe/Berlin", ("de", "en"),
        Adapter("umf-xml", (("endpoint", "https://bka.example.invalid/umf"),)),
        Routing("wiesbaden", "wiesbaden-1"),
        pq=True,
    ),
    Demo(
        "EU-EUROPOL",
        (("en", "Europol, European Union Agency for Law Enforcement Cooperation (DEMO)"),),
        "NLD", "Europe/Amsterdam", ("en",),
        Adapter("umf-xml", (("endpoint", "https://siena.example.invalid/umf"),)),
        Routing("the-hague", "the-hague-1"),
    ),
)  # fmt: skip

ALL_TYPES = tuple(EnquiryType)
ALL_HANDLING = tuple(Handling)
C = DataCategory
T = EnquiryType


def agreement(  # noqa: PLR0917 - the table below reads best positionally
    agreement_id: str,
    title: str,
    parties: tuple[str, ...],
    types: tuple[EnquiryType, ...],
    handling: tuple[Handling, ...],
    max_priority: Priority,
    categories: tuple[DataCategory, ...],
    valid_from: str,
) -> Agreement:
    return Agreement(
        id=agreement_id,
        title=title,
        parties=parties,
        enquiry_types=types,
        handling_codes=handling,
        max_priority=max_priority,
        attachments_allowed=True,
        data_categories=categories,
        valid_from=utc(valid_from),
    )


def agreements() -> tuple[Agreement, ...]:
    mekong = ("CN-MPS-OCT", "CN-YN-BLO-HK", "CN-YN-BLO-MH", "VN-BCA-C02", "LA-MOPS-ATD",
              "MM-MPF-ATTF")  # fmt: skip
    h0_h2 = (Handling.H0, Handling.H1, Handling.H2)
    return (
        agreement(
            "CN-VN-2009", "China - Viet Nam agreement against human trafficking (DEMO)",
            ("CN-MPS-OCT", "CN-YN-BLO-HK", "VN-BCA-C02"), ALL_TYPES, ALL_HANDLING,
            Priority.URGENT, (C.DNA_REFERENCE, C.COMMUNICATIONS_DATA, C.FINANCIAL, C.BIOMETRIC),
            "2009-10-01T00:00:00Z",
        ),
        agreement(
            "CN-LA-2014", "China - Laos agreement against human trafficking (DEMO)",
            ("CN-MPS-OCT", "CN-YN-BLO-MH", "LA-MOPS-ATD"), ALL_TYPES, ALL_HANDLING,
            Priority.URGENT, (C.DNA_REFERENCE, C.COMMUNICATIONS_DATA, C.BIOMETRIC),
            "2014-06-01T00:00:00Z",
        ),
        agreement(
            "CN-MM-2009", "China - Myanmar agreement against human trafficking (DEMO)",
            ("CN-MPS-OCT", "MM-MPF-ATTF"), ALL_TYPES, ALL_HANDLING,
            Priority.URGENT, (C.COMMUNICATIONS_DATA, C.FINANCIAL, C.BIOMETRIC),
            "2009-12-01T00:00:00Z",
        ),
        agreement(
            "MEKONG-2014", "Mekong river region MoU on joint law enforcement (DEMO)", mekong,
            (T.IDENTITY_CHECK, T.CRIMINAL_RECORD, T.LOCATION_TRACE, T.MISSING_CHILD_ALERT,
             T.VICTIM_IDENTIFICATION, T.TRAVEL_DOCUMENT_CHECK, T.JOINT_INVESTIGATION),
            h0_h2, Priority.URGENT, (C.BIOMETRIC,), "2014-03-01T00:00:00Z",
        ),
        # The narrower working group: no DNA, no communications data, nothing above "high".
        agreement(
            "CN-ES-WG-2016", "China - Spain working group, 2016 joint investigation (DEMO)",
            ("CN-MPS-OCT", "ES-PN-UCRIF"),
            (T.IDENTITY_CHECK, T.CRIMINAL_RECORD, T.TRAVEL_DOCUMENT_CHECK,
             T.VICTIM_IDENTIFICATION),
            h0_h2, Priority.HIGH, (C.BIOMETRIC,), "2016-04-01T00:00:00Z",
        ),
        agreement(
            "EU-THB-SIENA", "European exchange on trafficking in human beings (DEMO, fictional)",
            ("DE-BKA", "ES-PN-UCRIF", "EU-EUROPOL"), ALL_TYPES, ALL_HANDLING,
            Priority.URGENT, tuple(DataCategory), "2016-01-01T00:00:00Z",
        ),
    )  # fmt: skip


def office_entry(demo: Demo, edition: Edition) -> Office:
    current = demo_keys(demo.office_id, pq=demo.pq).public()
    start, end = utc("2026-11-01T00:00:00Z"), edition.expires_at
    keys = [
        OfficeKey(KeyUse.SIGNING, current.signing, start, end),
        OfficeKey(KeyUse.ENCRYPTION, current.encryption, start, end),
    ]
    if current.hybrid is not None:
        keys.append(OfficeKey(KeyUse.HYBRID, current.hybrid.raw(), start, end))
    if demo.office_id == "CN-YN-BLO-HK":
        # A signing key rotation: the old key overlaps the new one by 14 days.
        old = old_public(demo.office_id, "signing-2024", KeyUse.SIGNING)
        keys.append(OfficeKey(KeyUse.SIGNING, old, utc("2024-11-01T00:00:00Z"),
                              utc("2026-11-15T00:00:00Z")))  # fmt: skip
    if demo.office_id == "LA-MOPS-ATD":
        # A compromised encryption key, revoked when its successor took over.
        old = old_public(demo.office_id, "encryption-2025", KeyUse.ENCRYPTION)
        revoked = Revocation(utc("2026-11-01T00:00:00Z"), RevocationReason.KEY_COMPROMISE)
        keys.append(OfficeKey(KeyUse.ENCRYPTION, old, utc("2025-01-01T00:00:00Z"),
                              utc("2027-01-01T00:00:00Z"), revoked))  # fmt: skip
    return Office(
        id=demo.office_id,
        names=demo.names,
        country=demo.country,
        time_zone=demo.time_zone,
        languages=demo.languages,
        suite=Suite.V1_PQ if demo.pq else Suite.V1,
        adapter=demo.adapter,
        routing=demo.routing,
        urgent_contact=DEMO_CONTACT,
        keys=tuple(keys),
    )


def content(edition: Edition) -> DirectoryContent:
    root = Root(
        tuple(AdminKey(name, demo_keys(name).public().signing) for name in ADMINS), THRESHOLD
    )
    return DirectoryContent(
        version=edition.version,
        issued_at=edition.issued_at,
        expires_at=edition.expires_at,
        issuer="Liaison DEMO directory administrators (public demo keys, never for real use)",
        root=root,
        encryption_key_grace=timedelta(days=14),
        max_rotation_overlap=timedelta(days=30),
        offices=tuple(office_entry(demo, edition) for demo in OFFICES),
        agreements=agreements(),
    )


HEADER = (
    "DEMO ONLY. The example directory source of keys/example (see README.md there).",
    "Generated by keys/example/make.py; the format is described in docs/directory.md.",
    "Every key listed here is public knowledge: never use them for real cases.",
)


# ---------------------------------------------------------------- files


def build(edition: Edition) -> dict[str, bytes]:
    """Every file of keys/example except the private key folders, by relative path."""
    source = render_source(content(edition), header=HEADER).encode("utf-8")
    signed = build_unsigned(source, name=SOURCE_FILE)
    for name in SIGNERS:
        signed = add_signature(signed, demo_keys(name).signing)
    root = content(edition).root
    return {
        SOURCE_FILE: source,
        DIRECTORY_FILE: signed,
        ROOT_FILE: encode_root(Root(tuple(sorted(root.keys, key=lambda k: k.key_id)), THRESHOLD)),
        "edition.json": edition.dump().encode("utf-8"),
    }


def key_folders() -> dict[str, OfficeKeys]:
    folders = {f"admins/{name}": demo_keys(name) for name in ADMINS}
    for demo in OFFICES:
        folders[f"offices/{demo.office_id}"] = demo_keys(demo.office_id, pq=demo.pq)
    return folders


def write_all(out: Path, edition: Edition) -> list[Path]:
    written = []
    for name, data in build(edition).items():
        (out / name).write_bytes(data)
        written.append(out / name)
    for folder, keys in key_folders().items():
        written += save_office_keys(keys, out / folder, force=True, rng=_fixed_rng)
    return written


def _fixed_rng(n: int) -> bytes:
    # save_office_keys draws a salt (unused without a passphrase) and temporary names.
    return hashlib.shake_256(b"liaison DEMO make.py").digest(n)


def check() -> list[str]:
    """Regenerate into a scratch folder; the relative paths of files that differ."""
    with tempfile.TemporaryDirectory() as tmp:
        write_all(Path(tmp), Edition.load())
        fresh = {p.relative_to(tmp).as_posix(): p.read_bytes() for p in _files(Path(tmp))}
    have = {p.relative_to(HERE).as_posix(): p.read_bytes() for p in _files(HERE)}
    have = {name: data for name, data in have.items() if name not in ("make.py", "README.md")}
    return sorted(name for name in fresh.keys() | have.keys() if fresh.get(name) != have.get(name))


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def renewed(edition: Edition, now: datetime) -> Edition:
    """The next edition: one version up, issued today at 00:00 UTC, valid ``RENEW_YEARS``."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if (today.month, today.day) == (2, 29):
        today = today.replace(day=28)  # so that the expiry date exists too
    return Edition(edition.version + 1, today, today.replace(year=today.year + RENEW_YEARS))


def private_copy(dest: Path) -> Path:
    """Copy the demo key folders to ``dest`` (folders 0700, private keys 0600) and return it.
    Git does not keep 0600, and the key loader refuses keys that others may read."""
    for folder in key_folders():
        target = dest / folder
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
        target.chmod(0o700)
        for path in sorted((HERE / folder).iterdir()):
            shutil.copyfile(path, target / path.name)
            (target / path.name).chmod(0o644 if path.name == "public.json" else 0o600)
    return dest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="compare only; write nothing")
    group.add_argument("--renew", action="store_true", help="issue the next edition today")
    group.add_argument("--private-copy", type=Path, metavar="DIR", help="copy the demo keys")
    args = parser.parse_args()
    if args.check:
        stale = check()
        for name in stale:
            print(f"keys/example/{name} differs from what make.py produces")
        return 1 if stale else 0
    if args.private_copy:
        print(f"DEMO keys copied to {private_copy(args.private_copy)} (0700/0600)")
        return 0
    edition = Edition.load()
    if args.renew:
        edition = renewed(edition, datetime.now(UTC))
    written = write_all(HERE, edition)
    print(f"wrote {len(written)} files in keys/example (edition {edition.version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
