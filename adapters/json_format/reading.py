"""Reading a partner's JSON bytes safely: size, encoding, depth, duplicates, non-finite numbers.

Every check runs before or while parsing and costs linear time in the input: the size is checked
first, the nesting depth is measured on the raw bytes (strings removed, then one bracket level
peeled per pass) before ``json.loads`` sees them, and duplicate keys are caught by the parser's
object hook and located afterwards. A byte-order mark is refused, not stripped: RFC 8259 §8.1
says senders must not add one, and refusing keeps one byte form per message.
"""

from __future__ import annotations

import json
import re
from typing import Any

from adapters.base import AdapterInputError

MAX_DEPTH = 32  # objects and arrays nested deeper than this are refused before parsing
_BOM = b"\xef\xbb\xbf"
# The whole text as a run of non-string bytes and complete strings. Possessive quantifiers keep
# the match linear even on hostile runs of quotes and backslashes.
_TOKENS = re.compile(rb'(?:[^"]++|"(?:[^"\\]++|\\.)*+")*+', re.DOTALL)
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST = re.compile(rb"\[\]|\{\}")
_TOO_MANY_OPEN = re.compile(rb"[\[{]{%d}" % (MAX_DEPTH + 1))
_SAFE_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")


def path_segment(key: str) -> str:
    """``.key`` for a JSON path; a key that is not a plain name is not shown (it may be content)."""
    return f".{key}" if _SAFE_KEY.fullmatch(key) else "[?]"


class _Repeated(dict[str, Any]):
    """An object in which the partner repeated a key (located after parsing)."""


def parse(data: bytes, max_bytes: int) -> Any:
    """The JSON value in ``data``; AdapterInputError naming the place of any fault."""
    if len(data) > max_bytes:
        raise AdapterInputError("file", f"is larger than the {max_bytes}-byte limit")
    if data.startswith(_BOM):
        raise AdapterInputError("byte 0", "starts with a byte-order mark (send UTF-8 without one)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AdapterInputError(f"byte {exc.start}", "is not valid UTF-8") from None
    check_depth(data)
    repeats: list[bool] = []

    def collect(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(pairs)
        if len(result) == len(pairs):
            return result
        repeats.append(True)
        return _Repeated(result)

    try:
        value = json.loads(
            text,
            object_pairs_hook=collect,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
        )
    except json.JSONDecodeError as exc:
        raise AdapterInputError(f"line {exc.lineno}, column {exc.colno}", exc.msg) from None
    except (ValueError, RecursionError):  # e.g. an integer longer than Python converts
        raise AdapterInputError("file", "holds a number that cannot be read") from None
    # Only a file with a repeated key pays for the walk that locates it.
    repeated = _find_repeated(value, "$") if repeats else None
    if repeated is not None:
        raise AdapterInputError(repeated, "repeats a key (duplicate keys are refused)")
    return value


def check_depth(data: bytes) -> None:
    """Refuse JSON nested deeper than MAX_DEPTH, in linear time and without parsing."""
    if _TOKENS.fullmatch(data) is None:
        raise AdapterInputError("file", "has a string that does not end")
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKET)
    for _ in range(MAX_DEPTH):
        if not brackets:
            return
        peeled = _INNERMOST.sub(b"", brackets)
        if peeled == brackets:
            break  # brackets that do not pair up: json.loads names the place
        brackets = peeled
    if brackets and (_INNERMOST.search(brackets) or _TOO_MANY_OPEN.search(brackets)):
        raise AdapterInputError("file", f"nests deeper than {MAX_DEPTH} levels")


def _refuse_constant(_name: str) -> Any:
    raise AdapterInputError("file", "holds NaN or Infinity, which JSON does not allow")


def _finite_float(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise AdapterInputError("file", "holds a number too large for a double")
    return number


def _find_repeated(value: Any, path: str) -> str | None:
    if isinstance(value, _Repeated):
        return path
    if isinstance(value, dict):
        children = ((path + path_segment(key), child) for key, child in value.items())
    elif isinstance(value, list):
        children = ((f"{path}[{index}]", child) for index, child in enumerate(value))
    else:
        return None
    for child_path, child in children:
        found = _find_repeated(child, child_path)
        if found is not None:
            return found
    return None
