"""Runs the atheris harness briefly; atheris needs a process of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.vectors.generate_envelope import LA, MM, TH, _seal

HARNESS = Path(__file__).resolve().parents[1] / "fuzz" / "fuzz_open_envelope.py"
RUNS = 5000


def test_fuzz_harness_finds_nothing_in_a_few_thousand_runs(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "envelope").write_bytes(b"\x00" + _seal("fuzz-seed", [TH, LA, MM]))
    (corpus / "signed-variant").write_bytes(b"\x01" + bytes(range(256)))
    result = subprocess.run(
        [
            sys.executable,
            str(HARNESS),
            f"-runs={RUNS}",
            "-seed=1",
            "-max_total_time=60",
            str(corpus),
        ],
        cwd=tmp_path,  # where libFuzzer would write a crash-* file
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    tail = result.stderr[-3000:]
    assert result.returncode == 0, tail
    assert f"Done {RUNS} runs" in result.stderr, tail
    assert not list(tmp_path.glob("crash-*")), tail
