"""The committed protobuf code must be exactly what the pinned generator produces."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_broker_pb_matches_the_proto_sources() -> None:
    spec = importlib.util.spec_from_file_location("proto_generate", ROOT / "proto" / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    assert generate.check() == [], "run: .venv/bin/python proto/generate.py"
