"""The loading rules: size, threshold, root rotation, rollback, freeze, each refused by name."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from broker.directory import (
    DirectoryContent,
    DirectoryLimits,
    DirectoryRule,
    Root,
    Signature,
    TrustState,
    accept_chain,
    accept_directory,
    add_signature,
    decode_signed,
    encode_content,
    encode_signed,
    refusal_rule,
    sign_content,
    signed_input,
)
from broker.errors import InputError, IntegrityError, PolicyRefused
from broker.pb import directory_pb2 as pb
from tests.vectors import generate_directory as vec

AT = vec.AT
A1, A2, A3 = vec.ADMINS_A
B1, B2, B3 = vec.ADMINS_B
ROOT_A, ROOT_B = vec.root(vec.ADMINS_A), vec.root(vec.ADMINS_B)
PINNED = TrustState.pinned(ROOT_A)


def content(version: int = 1, root: Root = ROOT_A) -> DirectoryContent:
    return vec.content(version, root)


def signed(content_value: DirectoryContent, *names: str) -> bytes:
    return vec.signed(encode_content(content_value), *names)


def rule_of(data: bytes, trusted: TrustState = PINNED, at: datetime = AT, **kw: object) -> str:
    with pytest.raises(IntegrityError) as caught:
        accept_directory(data, trusted, now=at, **kw)  # type: ignore[arg-type]
    rule = refusal_rule(caught.value)
    assert rule is not None, caught.value.diagnosis
    assert caught.value.diagnosis.startswith(f"directory refused ({rule.value}): ")
    return rule.value


def state_after(data: bytes, trusted: TrustState = PINNED) -> TrustState:
    return accept_directory(data, trusted, now=AT).state


# ---------------------------------------------------------------- accepted


def test_a_threshold_of_trusted_signatures_is_accepted() -> None:
    data = signed(content(), A1, A3)
    accepted = accept_directory(data, PINNED, now=AT)
    assert accepted.directory.version == 1
    assert accepted.signers == (A1, A3)
    assert not accepted.root_rotated
    assert accepted.state == TrustState(
        ROOT_A, 1, hashlib.sha256(decode_signed(data).content).digest()
    )
    assert accepted.directory.content_bytes == decode_signed(data).content


def test_the_same_directory_again_is_accepted_and_changes_nothing() -> None:
    data = signed(content(), A1, A2)
    state = state_after(data)
    assert state_after(data, state) == state
    # More signatures over the same content bytes: still the same directory.
    assert state_after(add_signature(data, vec.admin_key(A3)), state) == state


def test_a_newer_version_is_accepted() -> None:
    state = state_after(signed(content(1), A1, A2))
    assert state_after(signed(content(5), A2, A3), state).version == 5


def test_signatures_by_unknown_keys_are_not_counted_and_do_not_refuse() -> None:
    accepted = accept_directory(signed(content(), A1, vec.FOREIGN, A2), PINNED, now=AT)
    assert accepted.not_counted == 1
    assert accepted.signers == (A1, A2)


# ---------------------------------------------------------------- refused, in order


def test_an_oversize_directory_is_refused_before_it_is_parsed() -> None:
    limits = DirectoryLimits(max_bytes=100)
    assert rule_of(b"\xff" * 101, limits=limits) == "oversize"
    assert rule_of(b"\xff" * 100, limits=limits) == "malformed"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xff\xff\xff",
        encode_signed(b""),  # no content
        encode_signed(b"x", [Signature(b"short", bytes(64))]),
        encode_signed(b"x", [Signature(bytes(16), bytes(63))]),
        b"\x1a\x02\x08\x01" + encode_signed(b"x"),  # an unknown field 3
    ],
)
def test_a_file_that_is_not_a_signed_directory_is_malformed(data: bytes) -> None:
    assert rule_of(data) == "malformed"


def test_too_many_signatures_are_malformed() -> None:
    data = encode_signed(b"x", [Signature(bytes([i]) * 16, bytes(64)) for i in range(33)])
    assert rule_of(data) == "malformed"


@pytest.mark.parametrize("names", [(), (A1,), (A1, A1), (A1, vec.FOREIGN), (B1, B2)])
def test_fewer_than_threshold_distinct_trusted_signatures_are_refused(
    names: tuple[str, ...],
) -> None:
    data = encode_signed(
        encode_content(content()),
        [sign_content(encode_content(content()), vec.admin_key(n)) for n in names],
    )
    assert rule_of(data) == "below-threshold"


def test_a_trusted_key_whose_signature_does_not_verify_refuses_the_file() -> None:
    body = encode_content(content())
    good = [sign_content(body, vec.admin_key(name)) for name in (A1, A2, A3)]
    forged = Signature(good[2].key_id, bytes(64))
    # Two good signatures meet the threshold, but a bad one by a trusted key means tampering.
    assert rule_of(encode_signed(body, [*good[:2], forged])) == "bad-signature"


def test_a_signature_over_the_content_without_the_label_does_not_verify() -> None:
    body = encode_content(content())
    raw = [Signature(s.key_id, vec.admin_key(n).sign(body)) for s, n in
           ((sign_content(body, vec.admin_key(n)), n) for n in (A1, A2))]  # fmt: skip
    assert rule_of(encode_signed(body, raw)) == "bad-signature"
    assert signed_input(body).startswith(
        b"\x00" * 7 + b"\x02" + b"\x00" * 7 + b"\x14liaison-v1 directory"
    )


def test_a_signed_but_malformed_content_is_refused() -> None:
    assert rule_of(vec.signed(b"\x08\x02", A1, A2)) == "malformed"  # format_version 2
    message = pb.DirectoryContent()
    message.ParseFromString(encode_content(content()))
    message.version = 0  # breaks a content rule
    assert rule_of(vec.signed(message.SerializeToString(), A1, A2)) == "malformed"


def test_a_lower_version_is_a_rollback() -> None:
    state = state_after(signed(content(3), A1, A2))
    assert rule_of(signed(content(2), A1, A2), state) == "rollback"


def test_the_same_version_with_other_content_is_a_conflict() -> None:
    state = state_after(signed(content(3), A1, A2))
    other = replace(content(3), issuer="Another issuer")
    assert rule_of(signed(other, A1, A2), state) == "version-conflict"


def test_an_expired_directory_is_refused_from_its_expiry_instant() -> None:
    data = signed(content(), A1, A2)
    expires = content().expires_at
    accept_directory(data, PINNED, now=expires - timedelta(microseconds=1))
    assert rule_of(data, at=expires) == "expired"


def test_rules_apply_in_order_signatures_before_version_before_expiry() -> None:
    state = state_after(signed(content(3), A1, A2))
    old = signed(content(2), A1)
    late = vec.EXPIRES + timedelta(days=1)
    assert rule_of(old, state, late) == "below-threshold"
    assert rule_of(signed(content(2), A1, A2), state, late) == "rollback"


def test_now_must_be_aware() -> None:
    with pytest.raises(InputError, match="aware"):
        accept_directory(signed(content(), A1, A2), PINNED, now=datetime(2026, 6, 1))  # noqa: DTZ001


# ---------------------------------------------------------------- root rotation


def test_a_root_rotation_signed_by_both_roots_is_accepted() -> None:
    state = state_after(signed(content(1), A1, A2))
    rotation = signed(content(2, ROOT_B), A1, A2, B1, B3)
    accepted = accept_directory(rotation, state, now=AT)
    assert accepted.root_rotated
    assert accepted.signers == (A1, A2, B1, B3)
    assert accepted.state.root == ROOT_B
    # From now on root B alone is trusted, and root A alone is not.
    assert state_after(signed(content(3, ROOT_B), B2, B3), accepted.state).version == 3
    assert rule_of(signed(content(3, ROOT_B), A1, A2), accepted.state) == "below-threshold"


def test_a_root_rotation_signed_only_by_the_new_root_is_refused() -> None:
    assert rule_of(signed(content(2, ROOT_B), B1, B2)) == "below-threshold"


def test_a_root_rotation_signed_only_by_the_old_root_is_refused() -> None:
    assert rule_of(signed(content(2, ROOT_B), A1, A2, B1)) == "root-rotation-unsigned"


def test_raising_the_threshold_is_a_rotation_too() -> None:
    stricter = replace(ROOT_A, threshold=3)
    assert rule_of(signed(content(2, stricter), A1, A2)) == "root-rotation-unsigned"
    assert accept_directory(signed(content(2, stricter), A1, A2, A3), PINNED, now=AT).root_rotated


def test_renaming_an_administrator_is_not_a_rotation() -> None:
    renamed = Root(tuple(replace(k, name=f"{k.name}-X") for k in ROOT_A.keys), 2)
    accepted = accept_directory(signed(content(2, renamed), A1, A2), PINNED, now=AT)
    assert not accepted.root_rotated
    assert accepted.state.root == renamed


def test_a_bad_signature_by_a_new_root_key_refuses_the_rotation() -> None:
    body = encode_content(content(2, ROOT_B))
    good = [sign_content(body, vec.admin_key(name)) for name in (A1, A2, B1, B2)]
    forged = Signature(sign_content(body, vec.admin_key(B3)).key_id, bytes(64))
    assert rule_of(encode_signed(body, [*good, forged])) == "bad-signature"


def test_a_chain_catches_up_across_a_rotation() -> None:
    state = state_after(signed(content(1), A1, A2))
    rotation = signed(content(2, ROOT_B), A1, A2, B1, B2)
    current = signed(content(3, ROOT_B), B1, B2)
    assert rule_of(current, state) == "below-threshold"
    assert accept_chain([rotation, current], state, now=AT).directory.version == 3


def test_only_the_last_directory_of_a_chain_must_be_unexpired() -> None:
    old = replace(content(2, ROOT_B), expires_at=datetime(2026, 4, 1, tzinfo=UTC))
    rotation = signed(old, A1, A2, B1, B2)
    current = signed(content(3, ROOT_B), B1, B2)
    assert accept_chain([rotation, current], PINNED, now=AT).directory.version == 3
    with pytest.raises(IntegrityError, match=r"\(expired\)"):
        accept_chain([rotation], PINNED, now=AT)


def test_an_empty_chain_is_a_mistake() -> None:
    with pytest.raises(InputError):
        accept_chain([], PINNED, now=AT)


# ---------------------------------------------------------------- refusal codes


def test_refusal_rule_reads_only_directory_refusals() -> None:
    assert refusal_rule(IntegrityError("directory refused (rollback): x")) is DirectoryRule.ROLLBACK
    assert refusal_rule(IntegrityError("directory refused (no-such-rule): x")) is None
    assert refusal_rule(IntegrityError("the log is broken")) is None
    assert refusal_rule(PolicyRefused("rollback", "directory refused (rollback): x")) is None


def test_every_rule_code_is_stable() -> None:
    assert [rule.value for rule in DirectoryRule] == [
        "oversize", "malformed", "bad-signature", "below-threshold", "root-rotation-unsigned",
        "rollback", "version-conflict", "expired",
    ]  # fmt: skip
