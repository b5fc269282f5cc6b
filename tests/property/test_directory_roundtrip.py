"""Generated directories survive source, wire and signing round trips; junk raises our errors."""

from __future__ import annotations

import contextlib
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broker.directory import (
    Adapter,
    AdminKey,
    Agreement,
    DataCategory,
    Directory,
    DirectoryContent,
    KeyUse,
    Office,
    OfficeKey,
    Revocation,
    RevocationReason,
    Root,
    Routing,
    TrustState,
    accept_directory,
    compile_source,
    decode_content,
    decode_root,
    decode_state,
    encode_content,
    encode_signed,
    refusal_rule,
    render_source,
    sign_content,
)
from broker.directory.model import KeyStatus, normalized
from broker.envelope.suite import Suite
from broker.errors import ConfigError, InputError, IntegrityError, PeerError, RejectReason
from broker.model.codes import EnquiryType, Handling, Priority

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
OFFICE_IDS = ["CN-MPS-OCT", "CN-YN-BLO-HK", "VN-BCA-C02", "LA-MOPS-ATD", "DE-BKA", "EU-EUROPOL"]
LANGUAGES = ["en", "zh-Hans", "vi", "lo", "my", "es", "de"]
ZONES = ["UTC", "Asia/Shanghai", "Asia/Ho_Chi_Minh", "Europe/Berlin", "America/Argentina/Salta"]
COUNTRIES = ["CHN", "VNM", "LAO", "MMR", "ESP", "DEU", "NLD"]
EXPECTED_REASON = {
    KeyStatus.REVOKED: RejectReason.SENDER_KEY_REVOKED,
    KeyStatus.NOT_YET_VALID: RejectReason.SENDER_KEY_NOT_YET_VALID,
    KeyStatus.EXPIRED: RejectReason.SENDER_KEY_EXPIRED,
}

moments = st.integers(0, 80 * 365 * 86_400).map(lambda s: EPOCH + timedelta(seconds=s))
spans = st.integers(60, 10 * 365 * 86_400).map(lambda s: timedelta(seconds=s))
display = (
    st.text(
        st.characters(categories=["L", "N"], include_characters=" -().,'"), min_size=1, max_size=30
    )
    .map(str.strip)
    .filter(bool)
)


def fake_key(label: str, use: KeyUse) -> bytes:
    """Distinct public key bytes (the directory checks lengths, not curve points)."""
    return hashlib.shake_256(label.encode()).digest(use.public_key_len)


@st.composite
def keys_of(draw: st.DrawFn, office_id: str, use: KeyUse) -> list[OfficeKey]:
    """One to three keys of one use, one after the other (never overlapping)."""
    start = draw(moments)
    keys = []
    for number in range(draw(st.integers(1, 3))):
        end = start + draw(spans)
        revocation = None
        if draw(st.booleans()):
            when = start + (end - start) * draw(st.floats(0, 1))
            revocation = Revocation(
                when.replace(microsecond=0), draw(st.sampled_from(RevocationReason))
            )
        public = fake_key(f"{office_id}/{use.label}/{number}", use)
        keys.append(OfficeKey(use, public, start, end, revocation))
        start = end + timedelta(seconds=draw(st.integers(0, 86_400)))
    return keys


@st.composite
def offices(draw: st.DrawFn, office_id: str) -> Office:
    pq = draw(st.booleans())
    keys = draw(keys_of(office_id, KeyUse.SIGNING)) + draw(keys_of(office_id, KeyUse.ENCRYPTION))
    if pq:
        keys += draw(keys_of(office_id, KeyUse.HYBRID))
    names = draw(st.dictionaries(st.sampled_from(LANGUAGES), display, min_size=1, max_size=3))
    settings_ = draw(
        st.dictionaries(st.sampled_from(["endpoint", "inbox", "sheet.lang"]), display, max_size=2)
    )
    return Office(
        id=office_id,
        names=tuple(names.items()),
        country=draw(st.sampled_from(COUNTRIES)),
        time_zone=draw(st.sampled_from(ZONES)),
        languages=tuple(
            draw(st.lists(st.sampled_from(LANGUAGES), min_size=1, max_size=3, unique=True))
        ),
        suite=Suite.V1_PQ if pq else Suite.V1,
        adapter=Adapter(draw(st.sampled_from(["native", "umf-xml"])), tuple(settings_.items())),
        routing=Routing("site-1", "broker-1"),
        urgent_contact=draw(display),
        keys=tuple(draw(st.permutations(keys))),
    )


@st.composite
def agreements(draw: st.DrawFn, number: int, office_ids: list[str]) -> Agreement:
    valid_from = draw(moments)
    return Agreement(
        id=f"AGREEMENT-{number}",
        title=draw(display),
        parties=tuple(draw(st.lists(st.sampled_from(office_ids), min_size=2, unique=True))),
        enquiry_types=tuple(draw(st.lists(st.sampled_from(EnquiryType), min_size=1, unique=True))),
        handling_codes=tuple(draw(st.lists(st.sampled_from(Handling), min_size=1, unique=True))),
        max_priority=draw(st.sampled_from(Priority)),
        attachments_allowed=draw(st.booleans()),
        data_categories=tuple(draw(st.lists(st.sampled_from(DataCategory), unique=True))),
        valid_from=valid_from,
        valid_until=draw(st.none() | spans.map(lambda span: valid_from + span)),
    )


@st.composite
def directories(draw: st.DrawFn) -> tuple[DirectoryContent, list[ed25519.Ed25519PrivateKey]]:
    admins = [
        ed25519.Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"admin %d" % i).digest())
        for i in draw(st.lists(st.integers(0, 50), min_size=1, max_size=4, unique=True))
    ]
    root = Root(
        tuple(
            AdminKey(f"ADMIN-{i}", k.public_key().public_bytes_raw()) for i, k in enumerate(admins)
        ),
        draw(st.integers(1, len(admins))),
    )
    office_ids = draw(st.lists(st.sampled_from(OFFICE_IDS), max_size=4, unique=True))
    issued = draw(moments)
    content = DirectoryContent(
        version=draw(st.integers(1, 2**63 - 1)),
        issued_at=issued,
        expires_at=issued + draw(spans),
        issuer=draw(display),
        root=root,
        encryption_key_grace=timedelta(seconds=draw(st.integers(0, 30 * 86_400))),
        max_rotation_overlap=timedelta(days=draw(st.integers(0, 30))),
        offices=tuple(draw(offices(office_id)) for office_id in office_ids),
        agreements=tuple(
            draw(agreements(n, office_ids))
            for n in range(draw(st.integers(0, 2)) if len(office_ids) > 1 else 0)
        ),
    )
    return content, admins


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(directories())
def test_the_source_round_trips(
    generated: tuple[DirectoryContent, list[ed25519.Ed25519PrivateKey]],
) -> None:
    content, _ = generated
    assert compile_source(render_source(content)) == normalized(content)


@PROPERTY
@given(directories())
def test_compile_sign_load_round_trip(
    generated: tuple[DirectoryContent, list[ed25519.Ed25519PrivateKey]],
) -> None:
    content, admins = generated
    body = encode_content(compile_source(render_source(content)))
    assert decode_content(body) == normalized(content)
    signers = admins[: content.root.threshold]
    data = encode_signed(body, [sign_content(body, key) for key in signers])
    accepted = accept_directory(data, TrustState.pinned(content.root), now=content.issued_at)
    assert accepted.directory.content == normalized(content)
    assert accepted.directory.content_bytes == body
    assert len(accepted.signers) == content.root.threshold
    if content.root.threshold > 1:
        short = encode_signed(body, [sign_content(body, key) for key in signers[1:]])
        with pytest.raises(IntegrityError, match=r"\(below-threshold\)"):
            accept_directory(short, TrustState.pinned(content.root), now=content.issued_at)


@PROPERTY
@given(directories(), st.data())
def test_any_single_byte_flip_is_refused(
    generated: tuple[DirectoryContent, list[ed25519.Ed25519PrivateKey]], data: st.DataObject
) -> None:
    content, admins = generated
    body = encode_content(content)
    signed = encode_signed(body, [sign_content(body, k) for k in admins[: content.root.threshold]])
    index = data.draw(st.integers(0, len(signed) - 1))
    flipped = bytearray(signed)
    flipped[index] ^= data.draw(st.integers(1, 255))
    with pytest.raises(IntegrityError) as caught:
        accept_directory(bytes(flipped), TrustState.pinned(content.root), now=content.issued_at)
    assert refusal_rule(caught.value) is not None


@PROPERTY
@given(directories(), moments)
def test_signing_keys_answer_as_their_status(
    generated: tuple[DirectoryContent, list[ed25519.Ed25519PrivateKey]], at: datetime
) -> None:
    content, _ = generated
    directory = Directory.decode(encode_content(content))
    for office in directory.offices:
        for key in office.keys_of(KeyUse.SIGNING):
            status = key.status_at(at)
            if status is KeyStatus.VALID:
                assert directory.signing_key(office.id, key.key_id, at) == key.public_key
                continue
            with pytest.raises(PeerError) as caught:
                directory.signing_key(office.id, key.key_id, at)
            assert caught.value.reason is EXPECTED_REASON[status]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_only_raise_our_errors(junk: bytes) -> None:
    root = Root((AdminKey("A", bytes(32)),), 1)
    for call, error in (
        (lambda: accept_directory(junk, TrustState.pinned(root), now=EPOCH), IntegrityError),
        (lambda: decode_content(junk), InputError),
        (lambda: compile_source(junk), ConfigError),
        (lambda: decode_root(junk), ConfigError),
        (lambda: decode_state(junk), IntegrityError),
    ):
        with contextlib.suppress(error):
            call()


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=400))
def test_random_text_is_only_ever_a_config_error(text: str) -> None:
    with contextlib.suppress(ConfigError):
        compile_source(text)
