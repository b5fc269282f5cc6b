"""Hostile partner JSON: each refused with an AdapterInputError, quickly and without blowing up."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from adapters.base import AdapterInputError
from adapters.json_format import CODEC, MAX_DEPTH


@contextmanager
def quickly(limit: float = 10.0) -> Iterator[None]:
    # A bound against hangs and blow-ups, not a speed goal: generous so a busy CI machine passes.
    start = time.perf_counter()
    yield
    assert time.perf_counter() - start < limit


def refused(data: bytes) -> AdapterInputError:
    with quickly(), pytest.raises(AdapterInputError) as caught:
        CODEC.decode(data)
    return caught.value


def test_oversized_input_is_refused_before_parsing() -> None:
    error = refused(b" " * (CODEC.max_input_bytes + 1))
    assert error.where == "file"
    assert "limit" in str(error)


def test_deep_nesting_is_refused_before_parsing() -> None:
    assert "deeper" in str(refused(b"[" * 1_000_000 + b"]" * 1_000_000))
    assert "deeper" in str(refused(b'{"a":' * 100_000 + b"1" + b"}" * 100_000))
    assert "deeper" in str(refused(b"[" * 5_000_000))


def test_depth_just_at_the_limit_passes_the_depth_check() -> None:
    data = b'{"type":"receipt","x":' + b"[" * (MAX_DEPTH - 1) + b"]" * (MAX_DEPTH - 1) + b"}"
    assert "deeper" not in str(refused(data))  # refused by the schema instead


def test_brackets_inside_strings_do_not_count() -> None:
    data = b'{"type":"receipt","receivingOffice":"' + b"[" * 10_000 + b'"}'
    error = refused(data)
    assert "deeper" not in str(error)


def test_runs_of_quotes_and_backslashes_stay_linear() -> None:
    assert "does not end" in str(refused(b'"' + b'\\"' * 2_000_000))
    refused(b'"\\' * 2_000_000)


def test_many_small_arrays_are_quick() -> None:
    refused(b"[" + b"[]," * 2_000_000 + b"[]]")


def test_byte_order_mark_is_refused() -> None:
    error = refused(b'\xef\xbb\xbf{"type":"receipt"}')
    assert error.where == "byte 0"


def test_invalid_utf8_names_the_byte() -> None:
    assert refused(b'{"type":"re\xffceipt"}').where == "byte 11"


def test_duplicate_keys_are_refused_with_the_path() -> None:
    error = refused(b'{"type":"receipt","a":{"b":1,"b":2}}')
    assert error.where == "$.a"
    assert "repeats a key" in str(error)


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_non_finite_numbers_are_refused(constant: bytes) -> None:
    refused(b'{"type":"receipt","x":' + constant + b"}")


def test_huge_integer_is_refused() -> None:
    refused(b'{"type":"receipt","x":' + b"9" * 100_000 + b"}")


def test_syntax_error_names_line_and_column() -> None:
    assert refused(b'{\n  "type": }').where == "line 2, column 11"


@pytest.mark.parametrize("data", [b"[]", b'"receipt"', b"null", b"{}"])
def test_non_messages_are_refused(data: bytes) -> None:
    assert refused(data).where == "$"


def test_hostile_keys_are_not_quoted() -> None:
    error = refused(b'{"type":"receipt","<script>secret":1}')
    assert "secret" not in str(error)
