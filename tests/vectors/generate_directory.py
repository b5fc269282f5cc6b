"""Generate the directory test vectors in tests/vectors/directory/, or check them.

    python tests/vectors/generate_directory.py           rewrite every file
    python tests/vectors/generate_directory.py --check   regenerate in memory; exit 1 if different

Everything is fixed: administrator and office keys come from SHA-256 over a label and a name
(keys.json lists the seeds), times are constants, and Ed25519 is deterministic, so every file is
reproduced byte for byte. ``cases.json`` says, for each case, what the office trusts, which
files it is given (in order), the time, and the outcome: accepted (with version, signers and
whether the root rotated) or refused by a named rule (docs/directory.md, "Loading rules").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519, x25519

from broker.directory import (
    Adapter,
    AdminKey,
    Agreement,
    DirectoryContent,
    KeyUse,
    Office,
    OfficeKey,
    Root,
    Routing,
    Signature,
    encode_content,
    encode_root,
    encode_signed,
    render_source,
    sign_content,
    signed_input,
)
from broker.envelope.suite import Suite
from broker.model.codes import EnquiryType, Handling, Priority

OUT = Path(__file__).resolve().parent / "directory"
LABEL = b"liaison-v1 directory vectors"
ISSUED = datetime(2026, 3, 1, tzinfo=UTC)
EXPIRES = datetime(2027, 3, 1, tzinfo=UTC)
AT = datetime(2026, 6, 1, tzinfo=UTC)
ADMINS_A = ("VEC-ADMIN-A1", "VEC-ADMIN-A2", "VEC-ADMIN-A3")
ADMINS_B = ("VEC-ADMIN-B1", "VEC-ADMIN-B2", "VEC-ADMIN-B3")
FOREIGN = "VEC-ADMIN-OTHER"  # an administrator of another directory
OFFICES = ("CN-YN-BLO-HK", "VN-BCA-C02")


def seed(name: str, role: str) -> bytes:
    return hashlib.sha256(LABEL + b"\x00" + name.encode() + b"\x00" + role.encode()).digest()


def admin_key(name: str) -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(seed(name, "admin"))


def root(names: tuple[str, ...]) -> Root:
    keys = (AdminKey(n, admin_key(n).public_key().public_bytes_raw()) for n in names)
    return Root(tuple(sorted(keys, key=lambda k: k.key_id)), 2)


def office(office_id: str) -> Office:
    signing = ed25519.Ed25519PrivateKey.from_private_bytes(seed(office_id, "signing"))
    encryption = x25519.X25519PrivateKey.from_private_bytes(seed(office_id, "encryption"))
    window = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC))
    return Office(
        id=office_id,
        names=(("en", f"{office_id} (test vector)"),),
        country="CHN" if office_id.startswith("CN") else "VNM",
        time_zone="Asia/Shanghai" if office_id.startswith("CN") else "Asia/Ho_Chi_Minh",
        languages=("zh-Hans", "en") if office_id.startswith("CN") else ("vi", "en"),
        suite=Suite.V1,
        adapter=Adapter("native"),
        routing=Routing("test", "test-1"),
        urgent_contact="+00 0000 0000 (test vector)",
        keys=(
            OfficeKey(KeyUse.SIGNING, signing.public_key().public_bytes_raw(), *window),
            OfficeKey(KeyUse.ENCRYPTION, encryption.public_key().public_bytes_raw(), *window),
        ),
    )


def content(version: int, trusted: Root) -> DirectoryContent:
    return DirectoryContent(
        version=version,
        issued_at=ISSUED,
        expires_at=EXPIRES,
        issuer="Liaison test vector administrators",
        root=trusted,
        encryption_key_grace=timedelta(days=14),
        max_rotation_overlap=timedelta(days=30),
        offices=tuple(office(o) for o in OFFICES),
        agreements=(
            Agreement(
                id="CN-VN-2009",
                title="Test vector agreement",
                parties=OFFICES,
                enquiry_types=(EnquiryType.IDENTITY_CHECK, EnquiryType.MISSING_CHILD_ALERT),
                handling_codes=(Handling.H0, Handling.H1),
                max_priority=Priority.URGENT,
                attachments_allowed=True,
                data_categories=(),
                valid_from=datetime(2009, 10, 1, tzinfo=UTC),
            ),
        ),
    )


def signed(data: bytes, *names: str) -> bytes:
    return encode_signed(data, [sign_content(data, admin_key(name)) for name in names])


def trust(root_file: str, version: int = 0, content_bytes: bytes = b"") -> dict[str, Any]:
    digest = hashlib.sha256(content_bytes).hexdigest() if content_bytes else ""
    return {"root": root_file, "version": version, "content_sha256": digest}


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def accepted(
    version: int, signers: tuple[str, ...], *, rotated: bool = False, extra: int = 0
) -> dict[str, Any]:
    return {
        "accepted": True,
        "version": version,
        "signers": sorted(signers),
        "root_rotated": rotated,
        "not_counted": extra,
    }


def refused(rule: str) -> dict[str, Any]:
    return {"accepted": False, "rule": rule}


def build() -> dict[str, bytes]:
    """Every vector file, by name."""
    root_a, root_b = root(ADMINS_A), root(ADMINS_B)
    a1, a2, a3 = ADMINS_A
    b1, b2, _ = ADMINS_B
    v1 = encode_content(content(1, root_a))
    v2 = encode_content(content(2, root_a))
    v2_other = encode_content(replace(content(2, root_a), issuer="Someone else's version 2"))
    v2_rotation = encode_content(content(2, root_b))
    v3 = encode_content(content(3, root_b))
    sig_a1, sig_a2 = (sign_content(v1, admin_key(n)) for n in (a1, a2))
    files = {
        "v1.bin": signed(v1, a1, a2),
        "v1-extra-foreign.bin": signed(v1, a1, a2, FOREIGN),
        "v1-one-signature.bin": signed(v1, a1),
        "v1-unsigned.bin": encode_signed(v1),
        "v1-foreign-signature.bin": signed(v1, a1, FOREIGN),
        "v1-swapped-signatures.bin": encode_signed(
            v1,
            [
                Signature(sig_a1.key_id, sig_a2.signature),
                Signature(sig_a2.key_id, sig_a1.signature),
            ],
        ),
        "v1-signature-from-v2.bin": encode_signed(v1, [sig_a1, sign_content(v2, admin_key(a2))]),
        "v1-signed-garbage.bin": signed(b"\x0a\x03not a directory", a1, a2),
        "garbage.bin": hashlib.sha256(LABEL + b" garbage").digest() * 4,
        "v2.bin": signed(v2, a1, a3),
        "v2-conflict.bin": signed(v2_other, a1, a2),
        "v2-rotation.bin": signed(v2_rotation, a1, a2, b1, b2),
        "v2-rotation-new-only.bin": signed(v2_rotation, b1, b2),
        "v2-rotation-old-only.bin": signed(v2_rotation, a1, a2),
        "v3-after-rotation.bin": signed(v3, b1, b2),
        "v3-signed-by-old-root.bin": signed(v3, a1, a2),
    }
    cases = [
        ("valid", "v1 signed by 2 of 3 trusted administrators", trust("root-a.json"),
         ["v1.bin"], AT, accepted(1, (a1, a2))),
        ("valid-again", "the same v1 again: idempotent", trust("root-a.json", 1, v1),
         ["v1.bin"], AT, accepted(1, (a1, a2))),
        ("valid-newer", "v2 after v1", trust("root-a.json", 1, v1),
         ["v2.bin"], AT, accepted(2, (a1, a3))),
        ("valid-extra-foreign-signature", "a signature by another directory's key is ignored",
         trust("root-a.json"), ["v1-extra-foreign.bin"], AT, accepted(1, (a1, a2), extra=1)),
        ("bad-threshold", "only 1 of the 2 signatures needed", trust("root-a.json"),
         ["v1-one-signature.bin"], AT, refused("below-threshold")),
        ("unsigned", "no signature at all", trust("root-a.json"),
         ["v1-unsigned.bin"], AT, refused("below-threshold")),
        ("mixed-up-foreign-key", "the second signature is by a key of another directory",
         trust("root-a.json"), ["v1-foreign-signature.bin"], AT, refused("below-threshold")),
        ("mixed-up-swapped", "the two signatures' bytes are swapped between administrators",
         trust("root-a.json"), ["v1-swapped-signatures.bin"], AT, refused("bad-signature")),
        ("mixed-up-other-content", "one signature was made over another directory's content",
         trust("root-a.json"), ["v1-signature-from-v2.bin"], AT, refused("bad-signature")),
        ("rollback", "v1 after v2 was accepted", trust("root-a.json", 2, v2),
         ["v1.bin"], AT, refused("rollback")),
        ("version-conflict", "another v2 after v2 was accepted", trust("root-a.json", 2, v2),
         ["v2-conflict.bin"], AT, refused("version-conflict")),
        ("freeze", "v1 at its expiry instant", trust("root-a.json"),
         ["v1.bin"], EXPIRES, refused("expired")),
        ("freeze-later", "v1 a year after it expired", trust("root-a.json", 1, v1),
         ["v1.bin"], EXPIRES + timedelta(days=365), refused("expired")),
        ("root-rotation", "v2 moves to root B, signed by 2 of A and 2 of B",
         trust("root-a.json", 1, v1), ["v2-rotation.bin"], AT,
         accepted(2, (a1, a2, b1, b2), rotated=True)),
        ("root-rotation-new-only", "v2 moves to root B, signed only by B",
         trust("root-a.json", 1, v1), ["v2-rotation-new-only.bin"], AT, refused("below-threshold")),
        ("root-rotation-old-only", "v2 moves to root B, signed only by A",
         trust("root-a.json", 1, v1), ["v2-rotation-old-only.bin"], AT,
         refused("root-rotation-unsigned")),
        ("after-rotation", "v3 signed by root B, trusted after the rotation",
         trust("root-b.json", 2, v2_rotation), ["v3-after-rotation.bin"], AT,
         accepted(3, (b1, b2))),
        ("after-rotation-old-root", "v3 signed by the retired root A",
         trust("root-b.json", 2, v2_rotation), ["v3-signed-by-old-root.bin"], AT,
         refused("below-threshold")),
        ("missed-rotation", "an office still on root A is given v3 alone",
         trust("root-a.json", 1, v1), ["v3-after-rotation.bin"], AT, refused("below-threshold")),
        ("catch-up-chain", "an office still on root A is given the rotation, then v3",
         trust("root-a.json", 1, v1), ["v2-rotation.bin", "v3-after-rotation.bin"], AT,
         accepted(3, (b1, b2))),
        ("signed-garbage", "well signed, but the content is not a directory",
         trust("root-a.json"), ["v1-signed-garbage.bin"], AT, refused("malformed")),
        ("garbage", "not a signed directory at all", trust("root-a.json"),
         ["garbage.bin"], AT, refused("malformed")),
    ]  # fmt: skip
    documents = {
        "cases.json": _json(
            {
                "description": __doc__.splitlines()[0],
                "cases": [
                    {
                        "name": name,
                        "description": text,
                        "trusted": trusted,
                        "files": names,
                        "at": iso(at),
                        "expect": expect,
                    }
                    for name, text, trusted, names, at, expect in cases
                ],
            }
        ),
        "signing.json": _json(_signing(v1, (a1, a2))),
        "keys.json": _json(
            {
                "note": "TEST VECTOR KEYS: public seeds, never for real use.",
                "administrators": {
                    name: seed(name, "admin").hex() for name in (*ADMINS_A, *ADMINS_B, FOREIGN)
                },
            }
        ),
        "root-a.json": encode_root(root_a),
        "root-b.json": encode_root(root_b),
        "source.toml": render_source(
            content(1, root_a),
            header=("The source of v1.bin (tests/vectors/generate_directory.py).",),
        ).encode("utf-8"),
    }
    return files | documents


def _signing(content_bytes: bytes, names: tuple[str, ...]) -> dict[str, Any]:
    """The signing of v1 spelled out, for another implementation to compare step by step."""
    return {
        "label": "liaison-v1 directory",
        "content_hex": content_bytes.hex(),
        "signed_input_hex": signed_input(content_bytes).hex(),
        "signatures": [
            {
                "administrator": name,
                "public_key_hex": admin_key(name).public_key().public_bytes_raw().hex(),
                "key_id_hex": sign_content(content_bytes, admin_key(name)).key_id.hex(),
                "signature_hex": sign_content(content_bytes, admin_key(name)).signature.hex(),
            }
            for name in names
        ],
    }


def _json(document: Any) -> bytes:
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def check() -> list[str]:
    """The names of committed files that differ from what ``build`` produces now."""
    fresh = build()
    have = {p.name: p.read_bytes() for p in OUT.iterdir() if p.is_file()} if OUT.exists() else {}
    return sorted(name for name in fresh.keys() | have.keys() if fresh.get(name) != have.get(name))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; write nothing")
    args = parser.parse_args()
    if args.check:
        stale = check()
        for name in stale:
            print(f"tests/vectors/directory/{name} differs from what the generator produces")
        return 1 if stale else 0
    OUT.mkdir(exist_ok=True)
    documents = build()
    for name, data in documents.items():
        (OUT / name).write_bytes(data)
    print(f"wrote {len(documents)} files in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
