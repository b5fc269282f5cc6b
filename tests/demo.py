"""The DEMO example directory and keys of keys/example, for tests (via its make.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

EXAMPLE = Path(__file__).resolve().parents[1] / "keys" / "example"


def _load_make() -> ModuleType:
    spec = importlib.util.spec_from_file_location("example_make", EXAMPLE / "make.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


make = _load_make()
DIRECTORY_FILE = EXAMPLE / "directory.bin"
ROOT_FILE = EXAMPLE / "root.json"
