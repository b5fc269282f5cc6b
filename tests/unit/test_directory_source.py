"""The TOML source compiler: every way of getting it wrong is reported, with the entry named."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from broker.directory import (
    Adapter,
    AdminKey,
    DataCategory,
    DirectoryContent,
    KeyUse,
    OfficeKey,
    Revocation,
    RevocationReason,
    checks,
    compile_source,
    decode_signed,
    encode_content,
    render_source,
)
from broker.directory.checks import content_problems
from broker.directory.model import normalized
from broker.envelope.suite import Suite
from broker.errors import ConfigError
from broker.model.codes import EnquiryType
from tests.vectors import generate_directory as vec

T0 = datetime(2026, 1, 1, tzinfo=UTC)
S = "offices[0].keys.signing"
NOT_AFTER = "not_after = 2028-01-01T00:00:00Z"


def base() -> DirectoryContent:
    return vec.content(1, vec.root(vec.ADMINS_A))


def source() -> str:
    return render_source(base())


def problems(text: str | bytes) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        compile_source(text)
    found = {problem.key_path: problem.message for problem in caught.value.problems}
    assert caught.value.diagnosis.endswith(
        f"{len(caught.value.problems)} problem" + "s" * (len(found) > 1)
    )
    return found


def edited(old: str, new: str, *, count: int = 1) -> str:
    text = source()
    assert old in text, old
    return text.replace(old, new, count)


def signing_key(
    name: str, start: datetime, end: datetime, revoked: datetime | None = None
) -> OfficeKey:
    public = (
        ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(name.encode()).digest())
        .public_key()
        .public_bytes_raw()
    )
    revocation = None if revoked is None else Revocation(revoked, RevocationReason.KEY_COMPROMISE)
    return OfficeKey(KeyUse.SIGNING, public, start, end, revocation)


def with_signing_keys(*keys: OfficeKey) -> DirectoryContent:
    """The base content with office 0's signing keys replaced by ``keys``."""
    content = base()
    first = content.offices[0]
    others = tuple(k for k in first.keys if k.use is not KeyUse.SIGNING)
    offices = (replace(first, keys=(*keys, *others)), *content.offices[1:])
    return replace(content, offices=offices)


def days(n: float) -> timedelta:
    return timedelta(days=n)


# ---------------------------------------------------------------- the happy path


def test_the_vector_source_compiles_to_the_signed_vector_content() -> None:
    compiled = compile_source(source())
    assert compiled == normalized(base())
    signed = (vec.OUT / "v1.bin").read_bytes()
    assert encode_content(compiled) == decode_signed(signed).content


def test_the_source_may_be_bytes_and_is_normalised() -> None:
    content = base()
    shuffled = replace(content, offices=content.offices[::-1])
    compiled = compile_source(render_source(shuffled).encode("utf-8"))
    assert [office.id for office in compiled.offices] == ["CN-YN-BLO-HK", "VN-BCA-C02"]


def test_a_key_id_may_be_written_in_hex_or_as_a_fingerprint() -> None:
    key = base().offices[0].keys_of(KeyUse.SIGNING)[0]
    text = edited(f'key_id = "{key.fingerprint}"', f'key_id = "{key.key_id.hex()}"')
    assert compile_source(text) == normalized(base())


# ---------------------------------------------------------------- text mistakes, one at a time


@pytest.mark.parametrize(
    ("old", "new", "path", "phrase"),
    [
        ('issuer = "', 'colour = "blue"\nissuer = "', "colour", "unknown field"),
        ('time_zone = "Asia/Shanghai"', 'time_zone = "Asia/Shanghai"\nfax = "0"',
         "offices[0].fax", "unknown field"),
        ("not_after = 2028-01-01T00:00:00Z", "not_after = 2028-01-01T00:00:00Z\nnote = 1",
         "offices[0].keys.signing[0].note", "unknown field"),
        ('country = "CHN"\n', "", "offices[0].country", "is missing"),
        ("version = 1", 'version = "1"', "version", "must be an integer"),
        ("issued_at = 2026-03-01T00:00:00Z", "issued_at = 2026-03-01T00:00:00", "issued_at",
         "has no offset"),
        ("expires_at = 2027-03-01T00:00:00Z", "expires_at = 2027-03-01", "expires_at",
         "must be a date and time"),
        ('format = "liaison-directory-source-v1"', 'format = "liaison-directory-source-v9"',
         "format", "must be 'liaison-directory-source-v1'"),
        ('id = "CN-YN-BLO-HK"', 'id = "cn-hk"', "offices[0].id", "is not an office id"),
        ('country = "CHN"', 'country = "CN"', "offices[0].country", "ISO 3166-1 alpha-3"),
        ('time_zone = "Asia/Shanghai"', 'time_zone = "China time"', "offices[0].time_zone",
         "IANA time zone"),
        ('languages = ["zh-Hans", "en"]', 'languages = ["zh_Hans", "en"]',
         "offices[0].languages[0]", "BCP 47"),
        ('languages = ["zh-Hans", "en"]', "languages = []", "offices[0].languages",
         "needs 1 to 16"),
        ('suite = "liaison-v1"', 'suite = "liaison-v2"', "offices[0].suite", "is not one of"),
        ('name = "native"', 'name = "Native Format"', "offices[0].adapter.name",
         "not an adapter name"),
        ('site = "test"', 'site = "Test Site"', "offices[0].routing.site", "is not a name"),
        ('urgent_contact = "+00 0000 0000 (test vector)"', 'urgent_contact = ""',
         "offices[0].urgent_contact", "must not be empty"),
        ('names = { en = "CN-YN-BLO-HK (test vector)" }', "names = { en = 7 }",
         "offices[0].names.en", "must be a string"),
        ('"missing-child-alert"', '"child-alert"', "agreements[0].enquiry_types[1]",
         "is not one of"),
        ('handling_codes = ["H0", "H1"]', 'handling_codes = ["H0", "H5"]',
         "agreements[0].handling_codes[1]", "is not one of"),
        ('max_priority = "urgent"', 'max_priority = "asap"', "agreements[0].max_priority",
         "is not one of"),
        ("data_categories = []", 'data_categories = ["dna"]', "agreements[0].data_categories[0]",
         "is not one of"),
        ('parties = ["CN-YN-BLO-HK", "VN-BCA-C02"]', 'parties = ["CN-YN-BLO-HK", "TH-RTP-ATHD"]',
         "agreements[0].parties[1]", "office 'TH-RTP-ATHD' is not in the directory"),
        ('parties = ["CN-YN-BLO-HK", "VN-BCA-C02"]', 'parties = ["CN-YN-BLO-HK"]',
         "agreements[0].parties", "at least two parties"),
        ('parties = ["CN-YN-BLO-HK", "VN-BCA-C02"]', 'parties = ["VN-BCA-C02", "VN-BCA-C02"]',
         "agreements[0].parties", "listed twice"),
        ('title = "Test vector agreement"', 'title = "two\\nlines"', "agreements[0].title",
         "single line"),
        ("threshold = 2", "threshold = 4", "root.threshold", "between 1 and the number of keys"),
        ("threshold = 2", "threshold = 0", "root.threshold", "between 1 and the number of keys"),
        ('name = "VEC-ADMIN-A3"', 'name = "VEC ADMIN A3"', "root.keys[0].name", "is not a name"),
        ("encryption_key_grace_days = 14", "encryption_key_grace_days = 400",
         "encryption_key_grace_days", "between 0 and 365 days"),
        ("encryption_key_grace_days = 14", 'encryption_key_grace_days = "two weeks"',
         "encryption_key_grace_days", "a number of days"),
        ("max_rotation_overlap_days = 30", "max_rotation_overlap_days = -1",
         "max_rotation_overlap_days", "between 0 and 36500 days"),
        ("version = 1", "version = 0", "version", "must be between 1 and"),
        ("expires_at = 2027-03-01T00:00:00Z", "expires_at = 2026-02-01T00:00:00Z", "expires_at",
         "later than issued_at"),
        ("valid_from = 2009-10-01T00:00:00Z",
         "valid_from = 2009-10-01T00:00:00Z\nvalid_until = 2009-01-01T00:00:00Z",
         "agreements[0].valid_until", "later than valid_from"),
        ("not_after = 2028-01-01T00:00:00Z",
         'not_after = 2028-01-01T00:00:00Z\nrevocation_reason = "superseded"',
         "offices[0].keys.signing[0].revocation_reason", "without revoked_at"),
        ("not_after = 2028-01-01T00:00:00Z",
         "not_after = 2028-01-01T00:00:00Z\nrevoked_at = 2026-05-01T00:00:00Z",
         "offices[0].keys.signing[0].revocation_reason", "is missing"),
        ("not_after = 2028-01-01T00:00:00Z",
         f'{NOT_AFTER}\nrevoked_at = 2026-05-01T00:00:00Z\nrevocation_reason = ""',
         f"{S}[0].revocation_reason", "is not one of"),
        ("not_after = 2028-01-01T00:00:00Z", "not_after = 2025-01-01T00:00:00Z",
         "offices[0].keys.signing[0].not_after", "later than not_before"),
        ('adapter = { name = "native", settings = {} }', 'adapter = "native"',
         "offices[0].adapter", "must be a table"),
    ],
)  # fmt: skip
def test_each_mistake_is_named_by_its_path(old: str, new: str, path: str, phrase: str) -> None:
    found = problems(edited(old, new))
    assert path in found, found
    assert phrase in found[path]


def test_a_key_id_that_is_not_the_id_of_the_key_is_refused() -> None:
    hk, vn = (office.keys_of(KeyUse.SIGNING)[0] for office in base().offices)
    found = problems(edited(f'key_id = "{hk.fingerprint}"', f'key_id = "{vn.fingerprint}"'))
    assert found == {
        "offices[0].keys.signing[0].key_id": (
            "is not the id of public_key: check the fingerprint again"
        )
    }


@pytest.mark.parametrize(
    ("value", "phrase"),
    [("not base64!", "is not base64"), (base64.b64encode(bytes(16)).decode(), "is 32 bytes")],
)
def test_a_malformed_public_key_is_refused(value: str, phrase: str) -> None:
    key = base().offices[0].keys_of(KeyUse.SIGNING)[0]
    found = problems(edited(base64.b64encode(key.public_key).decode(), value))
    assert phrase in found["offices[0].keys.signing[0].public_key"]


def test_a_duplicate_office_id_names_both_entries() -> None:
    found = problems(edited('id = "VN-BCA-C02"', 'id = "CN-YN-BLO-HK"'))
    assert found["offices[1].id"] == "CN-YN-BLO-HK is already listed as offices[0]"


def test_every_problem_is_reported_not_just_the_first() -> None:
    text = source()
    for old, new in [
        ('country = "CHN"', 'country = "ZZZ"'),
        ('handling_codes = ["H0", "H1"]', 'handling_codes = ["H9"]'),
        ("threshold = 2", "threshold = 9"),
        ('issuer = "', 'issuer_name = "x"\nissuer = "'),
    ]:
        text = text.replace(old, new, 1)
    assert set(problems(text)) == {
        "offices[0].country",
        "agreements[0].handling_codes[0]",
        "agreements[0].handling_codes",
        "root.threshold",
        "issuer_name",
    }


def test_a_missing_value_is_reported_once() -> None:
    # Without issued_at the expiry comparison has nothing to compare: one problem, not two.
    assert problems(edited("issued_at = 2026-03-01T00:00:00Z\n", "")) == {"issued_at": "is missing"}


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("version = = 1", "is not valid TOML"),
        (b"\xff\xfe", "is not UTF-8 text"),
        (b"#" * (16 * 1024 * 1024 + 1), "is larger than"),
    ],
)
def test_a_file_that_is_not_toml_is_refused(text: str | bytes, phrase: str) -> None:
    with pytest.raises(ConfigError, match=phrase):
        compile_source(text)


def test_an_empty_source_lists_what_is_missing() -> None:
    found = problems("")
    for name in ("format", "version", "issuer", "issued_at", "expires_at", "root"):
        assert found[name] == "is missing", name


# ---------------------------------------------------------------- key windows


def test_a_rotation_overlap_within_the_maximum_is_allowed() -> None:
    old = signing_key("old", T0, T0 + days(400))
    new = signing_key("new", T0 + days(380), T0 + days(800))  # 20 days of overlap, max 30
    compile_source(render_source(with_signing_keys(old, new)))


def test_keys_that_follow_each_other_do_not_overlap() -> None:
    old = signing_key("old", T0, T0 + days(400))
    new = signing_key("new", T0 + days(400), T0 + days(800))
    compile_source(render_source(with_signing_keys(new, old)))


@pytest.mark.parametrize(
    ("keys", "path", "phrase"),
    [
        ((signing_key("a", T0, T0 + days(400)), signing_key("b", T0 + days(300), T0 + days(800))),
         f"{S}[1].not_before",
         f"overlaps {S}[0] by 100 days, more than max_rotation_overlap_days (30 days)"),
        ((signing_key("a", T0, T0 + days(400)), signing_key("b", T0, T0 + days(800))),
         f"{S}[1].not_before", f"starts together with {S}[0]"),
        ((signing_key("a", T0, T0 + days(400)), signing_key("b", T0 + days(390), T0 + days(395))),
         f"{S}[1].not_before", f"lies within the window of {S}[0]"),
        ((signing_key("a", T0, T0 + days(400)), signing_key("b", T0 + days(380), T0 + days(800)),
          signing_key("c", T0 + days(390), T0 + days(900))),
         f"{S}[2].not_before", "three keys of the same kind"),
        ((signing_key("a", T0, T0 + days(400)), signing_key("a", T0 + days(400), T0 + days(800))),
         f"{S}[1].public_key", f"the same key is already {S}[0]"),
    ],
)  # fmt: skip
def test_overlapping_key_windows_are_refused(
    keys: tuple[OfficeKey, ...], path: str, phrase: str
) -> None:
    found = problems(render_source(with_signing_keys(*keys)))
    assert path in found, found
    assert phrase in found[path]


def test_a_revocation_ends_the_window_of_the_old_key() -> None:
    # Compromised after 100 days of a 400-day window; its successor starts at the revocation.
    old = signing_key("old", T0, T0 + days(400), revoked=T0 + days(100))
    new = signing_key("new", T0 + days(100), T0 + days(800))
    compile_source(render_source(with_signing_keys(old, new)))


def test_a_key_revoked_before_it_started_overlaps_nothing() -> None:
    never = signing_key("never", T0 + days(10), T0 + days(400), revoked=T0)
    current = signing_key("current", T0, T0 + days(800))
    compile_source(render_source(with_signing_keys(current, never)))


def test_one_key_may_not_serve_two_offices() -> None:
    content = base()
    hk, vn = content.offices
    stolen = hk.keys_of(KeyUse.SIGNING)[0]
    vn = replace(vn, keys=(stolen, *vn.keys_of(KeyUse.ENCRYPTION)))
    found = problems(render_source(replace(content, offices=(hk, vn))))
    assert (
        found["offices[1].keys.signing[0]"] == "this key is already listed for office CN-YN-BLO-HK"
    )


@pytest.mark.parametrize(
    ("use", "path"), [(KeyUse.SIGNING, "signing"), (KeyUse.ENCRYPTION, "encryption")]
)
def test_an_office_needs_a_signing_and_an_encryption_key(use: KeyUse, path: str) -> None:
    content = base()
    first = replace(
        content.offices[0], keys=tuple(k for k in content.offices[0].keys if k.use is not use)
    )
    found = problems(render_source(replace(content, offices=(first, *content.offices[1:]))))
    assert found[f"offices[0].keys.{path}"] == f"needs at least one {path} key"


def test_the_post_quantum_suite_needs_a_hybrid_key() -> None:
    content = base()
    first = replace(content.offices[0], suite=Suite.V1_PQ)
    found = problems(render_source(replace(content, offices=(first, *content.offices[1:]))))
    assert found == {"offices[0].keys.hybrid": "suite liaison-v1-pq needs at least one hybrid key"}


def test_duplicate_agreements_and_administrators_are_refused() -> None:
    content = base()
    root = content.root
    twin = replace(root.keys[0], name="SOMEONE-ELSE")
    content = replace(
        content,
        agreements=content.agreements * 2,
        root=replace(root, keys=(*root.keys, twin, replace(root.keys[1], public_key=bytes(32)))),
    )
    found = problems(render_source(content))
    assert found["agreements[1].id"] == "CN-VN-2009 is already listed as agreements[0]"
    assert found["root.keys[3].public_key"] == "the same key is already root.keys[0]"


def test_the_root_needs_a_key() -> None:
    content = base()
    text = render_source(replace(content, root=replace(content.root, keys=())))
    assert "root.keys" in problems(text)


# ---------------------------------------------------------------- rules TOML cannot always express


def _office0(**change: object) -> DirectoryContent:
    content = base()
    first = replace(content.offices[0], **change)  # type: ignore[arg-type]
    return replace(content, offices=(first, *content.offices[1:]))


def _agreement0(**change: object) -> DirectoryContent:
    content = base()
    return replace(content, agreements=(replace(content.agreements[0], **change),))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("content", "path", "phrase"),
    [
        (_office0(names=(("x_y", "Name"),)), "offices[0].names", "not a BCP 47 language tag"),
        (_office0(names=(("en", "A"), ("en", "B"))), "offices[0].names", "listed twice"),
        (_office0(names=(("en", " padded"),)), "offices[0].names.en", "start or end with white"),
        (_office0(names=(("en", "x" * 201),)), "offices[0].names.en", "longer than 200"),
        (_office0(names=()), "offices[0].names", "at least one display name"),
        (_office0(languages=("en", "en")), "offices[0].languages", "listed twice"),
        (_office0(adapter=Adapter("native", (("Endpoint", "x"),))), "offices[0].adapter.settings",
         "'Endpoint' is not a setting name"),
        (_office0(adapter=Adapter("native", (("a", "1"), ("a", "2")))),
         "offices[0].adapter.settings", "a setting is listed twice"),
        (_office0(adapter=Adapter("native", (("endpoint", "a\tb"),))),
         "offices[0].adapter.settings.endpoint", "single line"),
        (_office0(adapter=Adapter("native", tuple((f"s{i}", "v") for i in range(65)))),
         "offices[0].adapter.settings", "more than 64 settings"),
        (_office0(keys=tuple(signing_key(f"k{i}", T0 + days(i), T0 + days(i + 1))
                             for i in range(65))), "offices[0].keys", "more than 64 keys"),
        (_agreement0(id="mekong 2014"), "agreements[0].id", "is not an agreement id"),
        (_agreement0(enquiry_types=(EnquiryType.IDENTITY_CHECK,) * 2),
         "agreements[0].enquiry_types", "a value is listed twice"),
        (_agreement0(handling_codes=()), "agreements[0].handling_codes", "needs at least one"),
        (_agreement0(data_categories=(DataCategory.HEALTH,) * 2), "agreements[0].data_categories",
         "a value is listed twice"),
        (replace(base(), root=replace(base().root, keys=(AdminKey("A", bytes(16)),), threshold=1)),
         "root.keys[0].public_key", "an Ed25519 public key is 32 bytes"),
        (replace(base(), root=replace(base().root, keys=base().root.keys[:1] * 2, threshold=1)),
         "root.keys[1].name", "is already root.keys[0]"),
    ],
)  # fmt: skip
def test_content_rules_name_their_entry(content: DirectoryContent, path: str, phrase: str) -> None:
    found = {p.key_path: p.message for p in content_problems(content)}
    assert path in found, found
    assert phrase in found[path]


def test_more_offices_or_agreements_than_allowed_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(checks, "MAX_OFFICES", 1)
    monkeypatch.setattr(checks, "MAX_AGREEMENTS", 0)
    found = {p.key_path: p.message for p in content_problems(base())}
    assert found["offices"] == "more than 1 offices"
    assert found["agreements"] == "more than 0 agreements"


@pytest.mark.parametrize(
    ("text", "path", "phrase"),
    [
        ('offices = ["CN-YN-BLO-HK"]', "offices[0]", "must be a table"),
        ("[[agreements]]\nparties = [1, 2]", "agreements[0].parties", "a list of strings"),
    ],
)
def test_structure_mistakes_in_a_bare_source(text: str, path: str, phrase: str) -> None:
    found = problems(text)
    assert phrase in found[path]


def test_a_key_id_of_the_wrong_length_is_refused() -> None:
    key = base().offices[0].keys_of(KeyUse.SIGNING)[0]
    found = problems(edited(f'key_id = "{key.fingerprint}"', f'key_id = "{key.key_id.hex()[:31]}"'))
    assert found == {"offices[0].keys.signing[0].key_id": "must be 32 hex digits (spaces allowed)"}
