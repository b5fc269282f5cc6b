"""bench.report and bench.targets: the files a run's report consists of, and the verdicts on
issue #10's targets, from figures given here (nothing is measured; no timing is asserted)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import load, report, targets
from bench.run import CASE

ROOT = Path(__file__).resolve().parents[2]


def _latency(offered: float, achieved: float, p99: float) -> dict[str, Any]:
    block = {"p50": p99 / 2, "p95": p99 * 0.9, "p99": p99, "max": p99 * 1.1, "count": 10.0}
    return {
        "offered_per_s": offered,
        "window_s": 2.0,
        "offered": int(offered * 2),
        "submitted": int(achieved * 2),
        "not_submitted": int((offered - achieved) * 2),
        "achieved_per_s": achieved,
        "sustained": achieved >= 0.95 * offered,
        "backlog_at_window_end": 3,
        "drained": True,
        "drain_s": 1.0,
        "not_handed_over": 0,
        "handed_over_per_s": achieved,
        "handed_over_ms": block,
        "receipt_ms": {k: v + 1 for k, v in block.items()},
        "handed_over_from_due_ms": block,
    }


def _envelope(op: str, recipients: int, ratio: float) -> dict[str, Any]:
    return {
        "case": f"{op} 2 KiB, {recipients} recipient(s)",
        "liaison_per_s": 1000.0 * ratio,
        "baseline_per_s": 1000.0,
        "payload_bytes": 2048,
        "ratio": ratio,
        "op": op,
        "recipients": recipients,
        "suite": "liaison-v1",
    }


def _soak_daemon(first: float, last: float) -> dict[str, float]:
    return {
        "rss_first_mb": first,
        "rss_last_mb": last,
        "rss_min_mb": min(first, last),
        "rss_max_mb": max(first, last),
        "rss_spread": max(first, last) / min(first, last) - 1,
        "rss_drift": last / first - 1,
        "fds_first": 20,
        "fds_last": 20,
        "fds_max": 21,
    }


@pytest.fixture
def figures() -> dict[str, Any]:
    """A full-mode run in which every target is met."""
    sample = {"t_s": 0.0, "vn_rss_kib": 60_000, "vn_fds": 20, "hk_rss_kib": 58_000, "hk_fds": 19}
    return {
        "mode": "full",
        "started_at": "2026-11-27T08:00:00+00:00",
        "wall_s": 3000.0,
        "machine": {"cpu_model": "AMD EPYC", "cores": 2, "git_commit": "abc", "git_dirty": False},
        "envelope": [_envelope("seal", 1, 3.2), _envelope("open", 1, 3.5), _envelope("seal", 8, 2)],
        "exchange": {
            "n": 20_000,
            "raw_per_s": 20_000.0,
            "naive_per_s": 1_400.0,
            "submit_per_s": 15_000.0,
            "handed_over_per_s": 13_000.0,
            "delivered_per_s": 12_500.0,
            "prefilled_delivered_per_s": 14_000.0,
            "vn_rss_mib": 70.0,
        },
        "latency": [
            _latency(200, 200, 5.0),
            _latency(500, 499, 8.0),
            _latency(1000, 990, 19.0),
            _latency(2000, 1500, 900.0),
        ],
        "inboxes": [
            {"inboxes": 2, "declare_s": 0.0, "raw_per_s": 20_000.0},
            {"inboxes": 200, "declare_s": 8.0, "raw_per_s": 18_000.0},
        ],
        "soak": {
            "duration_s": 1800.0,
            "interval_s": 60.0,
            "rate_per_s": 50.0,
            "submitted": 90_000,
            "achieved_per_s": 50.0,
            "samples": [sample | {"t_s": 60.0 * i, "submitted": 3000 * i} for i in range(31)],
            "daemons": {"vn": _soak_daemon(60.0, 62.0), "hk": _soak_daemon(58.0, 58.5)},
        },
        "log": {
            "entries": 1_000_000,
            "envelopes": 363_636,
            "workers": 2,
            "bare_sha256_s": 1.0,
            "structural_verify_s": 1.8,
            "structural_vs_bare_hashing": 1.8,
            "structural_entries_per_s": 555_555,
            "full_verify_s": 40.0,
            "full_entries_per_s": 25_000,
            "full_envelopes_per_s": 9_000,
            "append_batched_entries_per_s": 70_000,
            "append_single_entries_per_s": 1_700,
            "inclusion_proof_ms": 0.8,
            "consistency_proof_ms": 0.8,
        },
        "errors": [],
        "phases_s": {"envelope": 90.0},
    }


def _by_name(verdicts: list[targets.Verdict]) -> dict[str, targets.Verdict]:
    return {v.name: v for v in verdicts}


def test_writes_the_four_files(figures: dict[str, Any], tmp_path: Path) -> None:
    paths = report.write(figures, tmp_path / "out")
    assert [p.name for p in paths] == ["report.md", "report.json", "throughput.png", "latency.png"]
    for png in paths[2:]:
        assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    text = paths[0].read_text(encoding="utf-8")
    assert "## Targets" in text
    assert "## Fixed offered rate: latency" in text
    assert "## Soak" in text
    document = json.loads(paths[1].read_text(encoding="utf-8"))
    assert document["exchange"]["raw_per_s"] == 20_000.0
    assert len(document["targets"]) == 9
    assert {t["status"] for t in document["targets"]} == {"met"}


def test_every_target_met(figures: dict[str, Any]) -> None:
    verdicts = targets.evaluate(figures)
    assert [v.met for v in verdicts] == [True] * 9
    assert all(v.why == "" for v in verdicts)


def test_missed_targets_say_by_how_much_and_why(figures: dict[str, Any]) -> None:
    slow = copy.deepcopy(figures)
    slow["exchange"]["delivered_per_s"] = 120.0
    slow["exchange"]["submit_per_s"] = 140.0
    slow["envelope"][0] = _envelope("seal", 1, 1.5)
    slow["latency"][2] = _latency(1000, 140, 5000.0)
    slow["soak"]["daemons"]["vn"] = _soak_daemon(60.0, 90.0)
    slow["log"]["structural_vs_bare_hashing"] = 4.0
    verdicts = _by_name(targets.evaluate(slow))

    ceiling = verdicts["secure end to end >= 60% of the raw-pika ceiling"]
    assert ceiling.met is False
    assert ceiling.status == "MISSED"
    assert "reaches 1.0% of the target" in ceiling.by  # 120/20,000 = 0.006x of 0.60x
    assert "submit alone at 140/s" in ceiling.why
    naive = verdicts["secure end to end >= 8x the naive publisher"]
    assert naive.met is False
    assert "reaches 1.1% of the target" in naive.by  # 120/1,400 = 0.086x of 8x

    seal = verdicts["seal >= 3x joserfc per core (2 KiB, 1 recipient)"]
    assert seal.met is False
    assert "reaches 50.0% of the target" in seal.by
    assert verdicts["open >= 3x joserfc per core (2 KiB, 1 recipient)"].met is True

    latency = verdicts["p99 submit-to-handed-over <= 20 ms at 1,000 msg/s offered"]
    assert latency.met is False
    assert "4,980 ms over the limit" in latency.by
    assert "not sustained" in latency.why

    flat = verdicts["daemon RSS flat within 10% over the soak"]
    assert flat.met is False
    assert "40 points over the limit" in flat.by  # 90/60 - 1 = 50% against 10%
    assert "VN's RSS went from 60.0 to 90.0 MB" in flat.why
    assert verdicts["daemon RSS under 150 MB over the soak"].met is True

    structural = verdicts["audit verify, structural, within 2x bare hashing"]
    assert structural.met is False
    assert "2x over the limit (2.00 times it)" in structural.by
    assert verdicts["audit verify, full, >= 20,000 entries/s"].met is True


def test_latency_met_only_when_the_rate_was_sustained(figures: dict[str, Any]) -> None:
    figures["latency"][2] = _latency(1000, 600, 5.0)  # fast, but 60% of the offer
    verdict = _by_name(targets.evaluate(figures))[
        "p99 submit-to-handed-over <= 20 ms at 1,000 msg/s offered"
    ]
    assert verdict.met is False
    assert "rate reached 60.0% of the offer" in verdict.by


def test_missing_scenarios_are_not_measured_never_met(figures: dict[str, Any]) -> None:
    for key in ("exchange", "soak", "latency"):
        del figures[key]
    verdicts = targets.evaluate(figures)
    statuses = [v.status for v in verdicts]
    assert statuses.count("not measured") == 5
    assert [v.met for v in verdicts if v.status == "not measured"] == [None] * 5


def test_quick_mode_and_fewer_entries_are_named(figures: dict[str, Any], tmp_path: Path) -> None:
    figures["mode"] = "quick"
    figures["log"]["entries"] = 20_000
    verdicts = _by_name(targets.evaluate(figures))
    assert verdicts["audit verify, full, >= 20,000 entries/s"].scope.startswith("20,000 entries")
    assert "quick mode" in verdicts["daemon RSS flat within 10% over the soak"].scope
    text = report.write(figures, tmp_path)[0].read_text(encoding="utf-8")
    assert "**Quick mode**" in text


def test_envelope_case_names_are_understood() -> None:
    found = CASE.fullmatch("open 2 KiB, 64 recipient(s), liaison-v1-pq")
    assert found is not None
    assert (found["op"], found["recipients"], found["suite"]) == ("open", "64", "liaison-v1-pq")
    plain = CASE.fullmatch("seal 64 KiB, 1 recipient")
    assert plain is not None
    assert (plain["op"], plain["recipients"], plain["suite"]) == ("seal", "1", None)


def test_run_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "--quick" in done.stdout
    assert "--out" in done.stdout
    assert "--broker" in done.stdout


def test_the_report_names_the_broker_it_measured(figures: dict[str, Any], tmp_path: Path) -> None:
    figures = copy.deepcopy(figures)
    figures["broker"] = {"kind": "private", "port": 40123, "open_files": 65536}
    text = report.write(figures, tmp_path / "private")[0].read_text(encoding="utf-8")
    assert "RabbitMQ" in text
    assert "(a private node of this run, open files 65,536)" in text
    figures["broker"] = {"kind": "local", "port": 5672}
    text = report.write(figures, tmp_path / "local")[0].read_text(encoding="utf-8")
    assert "(the local broker)" in text


class _BrokerStandIn:
    """What grow_inboxes asks of a Site: the broker's descriptors, and declaring inboxes."""

    def __init__(self, used: int, limit: int, per_office: int) -> None:
        self.used, self.limit, self.per_office = used, limit, per_office
        self.declared: list[str] = []

    def broker_fds(self) -> tuple[int, int]:
        return self.used, self.limit

    def add_inboxes(self, office_ids: list[str]) -> None:
        self.declared += office_ids
        self.used += self.per_office * len(office_ids)


def test_inboxes_are_declared_while_the_broker_has_descriptors() -> None:
    broker = _BrokerStandIn(used=100, limit=1000, per_office=6)
    offices = ["CN-YN-BLO-HK", "VN-BCA-C02"]
    row = load.grow_inboxes(broker, offices, 20, None)  # type: ignore[arg-type]
    assert "skipped" not in row
    assert len(offices) == 20
    assert broker.declared == load.idle_offices(18)
    assert row["fds_per_office"] == 6


def test_inboxes_that_would_exhaust_the_broker_are_not_declared() -> None:
    broker = _BrokerStandIn(used=220, limit=927, per_office=6)
    offices = ["CN-YN-BLO-HK", "VN-BCA-C02", *load.idle_offices(18)]
    row = load.grow_inboxes(broker, offices, 200, 6.0)  # type: ignore[arg-type]
    assert broker.declared == []
    assert len(offices) == 20
    # 180 more at 6 each: 220 + 1,080 > 80% of 927; (741.6 - 220) / 6 = 86 more fit.
    assert "take the broker from 220 to about 1,300 of its limit of 927" in row["skipped"]
    assert "about 106 offices in all" in row["skipped"]
