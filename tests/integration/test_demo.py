"""`liaison demo`, the README's main command, against the real broker: it completes, every
log verifies, every pair agrees, and nothing is left on the broker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.broker_fixtures import rabbitmqctl

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_the_demo_runs_end_to_end_and_leaves_nothing_on_the_broker(
    amqp_url: str, tmp_path: Path
) -> None:
    env = {**os.environ, "LIAISON_AMQP_URL": amqp_url}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from broker.cli.main import run; run()",
            "demo",
            "--json",
            "--work",
            str(tmp_path / "w"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    summary = json.loads(done.stdout)
    assert summary["ok"] is True
    assert summary["failures"] == []
    assert summary["left_on_broker"] == "nothing"
    assert summary["refused_before_sending"] == {
        "CN-YN-BLO-HK -> ES-PN-UCRIF": "rule sender-not-party"
    }
    assert sorted(summary["audits"]) == [
        "CN-MPS-OCT", "CN-YN-BLO-HK", "ES-PN-UCRIF", "LA-MOPS-ATD", "VN-BCA-C02",
    ]  # fmt: skip
    assert all(audit["ok"] for audit in summary["audits"].values())
    assert [r["agree"] for r in summary["reconciliations"]] == [True, True, True]
    rows = {(row["from"], row["to"]): row for row in summary["timelines"]}
    assert set(rows) == {
        ("CN-YN-BLO-HK", "VN-BCA-C02"),
        ("CN-YN-BLO-HK", "LA-MOPS-ATD"),
        ("CN-MPS-OCT", "ES-PN-UCRIF"),
    }
    for row in rows.values():
        assert 0 < row["to_handed_over_s"] <= row["to_answer_s"]
        assert 0 < row["to_receipt_s"] <= row["to_answer_s"]
    # What each partner's own system received, in its own format.
    assert [Path(n).suffix for n in summary["handed_over"]["LA-MOPS-ATD"]] == [".xlsx"]
    assert [Path(n).suffix for n in summary["handed_over"]["ES-PN-UCRIF"]] == [".xml"]
    assert [Path(n).suffix for n in summary["handed_over"]["VN-BCA-C02"]] == [".json"]
    vhosts = rabbitmqctl().run("list vhosts", "list_vhosts")
    assert summary["vhost"] not in vhosts.split()
    users = rabbitmqctl().run("list users", "list_users")
    assert not any(line.startswith(summary["vhost"].replace("liaison-demo-", "demo")) for line in
                   users.splitlines())  # fmt: skip
