"""Writes one run's report into a folder: ``report.md`` (a table per scenario and the targets),
``report.json`` (every raw figure, the machine, the verdicts) and ``throughput.png`` /
``latency.png`` (matplotlib, Agg: no display needed) against the offered load.

``write(figures, folder)`` takes the figures document ``bench.run`` builds; nothing here
measures anything, so the report can be rewritten from a saved ``report.json``:

    .venv/bin/python -m bench.report bench/results/2026-11-27/report.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: files only, no display
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

from bench.targets import LATENCY_P99_MS, Verdict, evaluate

FILES = ("report.md", "report.json", "throughput.png", "latency.png")


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}/s"


def _ratio(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}x" if value < 0.1 else f"{value:.2f}x"


def _ms(block: dict[str, float] | None, key: str) -> str:
    return "-" if not block else f"{block[key]:,.1f}"


def _table(header: list[str], rows: list[list[str]], right_from: int = 1) -> list[str]:
    aligns = ["---" if i < right_from else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(aligns) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _targets(verdicts: list[Verdict]) -> list[str]:
    rows = [[v.name, v.required, v.measured, v.status, v.by, v.scope, v.why] for v in verdicts]
    header = ["target", "required", "measured", "status", "by how much", "conditions", "why"]
    return ["## Targets", "", *_table(header, rows, right_from=99)]


def _envelope(rows: list[dict[str, Any]]) -> list[str]:
    out = ["## Envelope: seal and open beside joserfc (one process, one core)", ""]
    table = []
    for r in rows:
        big = r["payload_bytes"] >= 64 * 1024
        scale = r["payload_bytes"] / 1e6
        ours = f"{r['liaison_per_s'] * scale:,.1f} MB/s" if big else _rate(r["liaison_per_s"])
        theirs = f"{r['baseline_per_s'] * scale:,.1f} MB/s" if big else _rate(r["baseline_per_s"])
        table.append([r["case"], ours, theirs, _ratio(r["ratio"])])
    return out + _table(["case", "Liaison", "joserfc JWS-in-JWE (baseline)", "ratio"], table)


def _exchange(x: dict[str, Any]) -> list[str]:
    raw, naive = x["raw_per_s"], x["naive_per_s"]
    paths: list[tuple[str, float | None]] = [
        ("raw pika, 1,000 confirms in flight, batched acks, end to end (ceiling)", raw),
        ("raw pika, BlockingConnection, one confirm per publish (naive)", naive),
        (
            f"Liaison, first submit to last handed over at VN (N = {x['n']:,})",
            x["handed_over_per_s"],
        ),
        ("Liaison, first submit to last DELIVERED receipt at HK", x["delivered_per_s"]),
        ("Liaison, submit alone (in this process)", x["submit_per_s"]),
        (
            "Liaison daemons alone (outbox pre-filled), to DELIVERED",
            x.get("prefilled_delivered_per_s"),
        ),
    ]
    rows = [
        [
            name,
            _rate(rate),
            _ratio(rate / raw if rate else None),
            _ratio(rate / naive if rate else None),
        ]
        for name, rate in paths
    ]
    out = ["## Exchange: end to end beside raw pika (same broker, same run)", ""]
    out += _table(["path", "msgs/s", "vs ceiling", "vs naive"], rows)
    out.append(f"VN daemon RSS after the N enquiries: {x['vn_rss_mib']:.0f} MiB.")
    return [*out, ""]


def _latency(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        "## Fixed offered rate: latency",
        "",
        (
            "Submit-to-handed-over (VN's spool) and submit-to-receipt (DELIVERED back at HK),"
            " ms, from each enquiry's submit; 'from due' counts from when the schedule wanted it"
            " submitted (it includes the submitter falling behind). An offered rate the run did"
            " not sustain (under 95% submitted) measures a backlog, not a message's trip."
        ),
        "",
    ]
    table = []
    for r in rows:
        h, rc, due = r["handed_over_ms"], r["receipt_ms"], r["handed_over_from_due_ms"]
        table.append(
            [
                f"{r['offered_per_s']:,.0f}/s",
                f"{r['submitted']:,} of {r['offered']:,}",
                f"{r['achieved_per_s']:,.0f}/s",
                "yes" if r["sustained"] else "NO",
                f"{r['backlog_at_window_end']:,}",
                f"{_ms(h, 'p50')} / {_ms(h, 'p95')} / {_ms(h, 'p99')}",
                f"{_ms(rc, 'p50')} / {_ms(rc, 'p95')} / {_ms(rc, 'p99')}",
                _ms(due, "p99"),
                "yes" if r["drained"] else f"NO ({r['not_handed_over']:,} left)",
            ]
        )
    header = [
        "offered",
        "submitted",
        "achieved",
        "sustained",
        "backlog at window end",
        "handed over p50/p95/p99",
        "receipt p50/p95/p99",
        "from due p99",
        "all handed over",
    ]
    return out + _table(header, table)


def _fds(row: dict[str, Any]) -> str:
    if "broker_fds_limit" not in row:
        return "-"
    used = row.get("broker_fds_after", row["broker_fds_before"])
    return f"{used:,} of {row['broker_fds_limit']:,}"


def _inboxes(rows: list[dict[str, Any]]) -> list[str]:
    base = next((r["raw_per_s"] for r in rows if r.get("raw_per_s")), None)
    table = [
        [
            f"{r['inboxes']:,}",
            f"{r['declare_s']:.1f} s" if "declare_s" in r else "not run",
            _fds(r),
            _rate(r.get("raw_per_s")),
            _ratio(r["raw_per_s"] / base if base and r.get("raw_per_s") else None),
            _rate(r.get("secure_delivered_per_s")),
        ]
        for r in rows
    ]
    skipped = [f"{r['inboxes']:,} inboxes: {r['skipped']}." for r in rows if r.get("skipped")]
    out = [
        "## Office inboxes on one broker",
        "",
        (
            "Each office: a quorum inbox and its dead-letter queue, bound as generated; two of"
            " them (HK, VN) with daemons. Raw: pipelined 2 KiB persistent publishes through the"
            " envelope exchange, spread over every inbox, consumed from all of them. Secure: HK"
            " to VN with the other inboxes idle beside (full mode only)."
        ),
        "",
    ]
    header = [
        "inboxes",
        "declared in",
        "broker fds used",
        "raw msgs/s",
        "vs the first",
        "Liaison to DELIVERED",
    ]
    out += _table(header, table)
    return [*out, *skipped, ""] if skipped else out


def _soak(soak: dict[str, Any]) -> list[str]:
    out = [
        "## Soak",
        "",
        (
            f"{soak['duration_s']:,.0f} s offered at {soak['rate_per_s']:g}/s"
            f" ({soak['submitted']:,} submitted, {soak['achieved_per_s']:,.1f}/s), sampled every"
            f" {soak['interval_s']:g} s. RSS in MB (10^6 bytes)."
        ),
        "",
    ]
    summary = [
        [
            name.upper(),
            f"{d['rss_first_mb']:.1f}",
            f"{d['rss_last_mb']:.1f}",
            f"{d['rss_min_mb']:.1f} / {d['rss_max_mb']:.1f}",
            f"{d['rss_spread']:.1%}",
            f"{d['fds_first']:g} / {d['fds_last']:g} / {d['fds_max']:g}",
        ]
        for name, d in soak["daemons"].items()
    ]
    header = ["daemon", "RSS first", "RSS last", "min / max", "spread", "fds first / last / max"]
    out += _table(header, summary)
    samples = [
        [
            f"{s['t_s']:g}",
            f"{s['vn_rss_kib'] * 1024 / 1e6:.1f}",
            f"{s['vn_fds']:g}",
            f"{s['hk_rss_kib'] * 1024 / 1e6:.1f}",
            f"{s['hk_fds']:g}",
            f"{s['submitted']:,}",
        ]
        for s in soak["samples"]
    ]
    header = ["t (s)", "VN RSS", "VN fds", "HK RSS", "HK fds", "submitted"]
    return out + _table(header, samples)


def _log(log: dict[str, Any]) -> list[str]:
    n = log["entries"]
    rows = [
        [
            "bare SHA-256 of the same entry bytes (baseline)",
            f"{log['bare_sha256_s']:.3f} s",
            "1.00x",
        ],
        [
            "audit verify, structural",
            f"{log['structural_verify_s']:.3f} s ({log['structural_entries_per_s']:,}/s)",
            f"{log['structural_vs_bare_hashing']:.2f}x",
        ],
        [
            "audit verify, full (every envelope's signature)",
            f"{log['full_verify_s']:.2f} s ({log['full_entries_per_s']:,}/s)",
            f"{log['full_verify_s'] / log['bare_sha256_s']:.1f}x",
        ],
        ["append, durable, batches of 1,000", f"{log['append_batched_entries_per_s']:,}/s", "-"],
        ["append, durable, one per transaction", f"{log['append_single_entries_per_s']:,}/s", "-"],
        ["inclusion proof", f"{log['inclusion_proof_ms']:.3f} ms", "-"],
        ["consistency proof", f"{log['consistency_proof_ms']:.3f} ms", "-"],
    ]
    out = [
        "## Exchange log: audit verify beside bare hashing",
        "",
        f"{n:,} entries naming {log['envelopes']:,} envelopes, {log['workers']} worker(s).",
        "",
    ]
    return out + _table(["figure", "value", "vs bare hashing (time)"], rows)


def markdown(figures: dict[str, Any], verdicts: list[Verdict]) -> str:
    m = figures.get("machine", {})
    dirty = " (working tree modified)" if m.get("git_dirty") else ""
    broker = figures.get("broker", {})
    where = (
        f"a private node of this run, open files {broker.get('open_files', 0):,}"
        if broker.get("kind") == "private"
        else "the local broker"
    )
    lines = [
        f"# Liaison benchmarks: {figures.get('mode', '?')} run, {figures.get('started_at', '?')}",
        "",
        (
            f"Commit {m.get('git_commit', '?')}{dirty}; {m.get('cpu_model', '?')},"
            f" {m.get('cores', '?')} cores, {m.get('ram_gb', '?')} GB RAM;"
            f" Python {m.get('python', '?')}; RabbitMQ {m.get('rabbitmq', '?')} ({where});"
            f" wall time {figures.get('wall_s', 0):,.0f} s."
        ),
        "",
        (
            "Figures that matter are ratios against baselines measured in this same run;"
            " absolute numbers depend on the machine and are context only."
        ),
        "",
    ]
    if figures.get("mode") == "quick":
        lines += [
            (
                "**Quick mode**: short runs for routine checks. Its verdicts are indicative;"
                " the full mode's are the ones to quote."
            ),
            "",
        ]
    lines += _targets(verdicts)
    sections: list[tuple[str, Any]] = [
        ("envelope", _envelope),
        ("exchange", _exchange),
        ("latency", _latency),
        ("inboxes", _inboxes),
        ("soak", _soak),
        ("log", _log),
    ]
    for key, render in sections:
        if figures.get(key):
            lines += render(figures[key])
    if figures.get("errors"):
        lines += ["## Errors", ""]
        lines += [f"* {e['scenario']}: {e['error']}" for e in figures["errors"]]
        lines.append("")
    if figures.get("phases_s"):
        phases = ", ".join(f"{k} {v:,.0f} s" for k, v in figures["phases_s"].items())
        lines += [f"Time per phase: {phases}.", ""]
    return "\n".join(lines)


def _log_axes(ax: Axes, offered: list[float]) -> None:
    """Log scales, ticks as plain numbers (1,000 rather than 10^3), one at each offered rate."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    if offered:
        ax.set_xticks(offered)
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:,.0f}"))
        axis.set_minor_formatter(FuncFormatter(lambda _value, _pos: ""))


def _plot_throughput(figures: dict[str, Any], path: Path) -> None:
    rows = figures.get("latency") or []
    fig, ax = plt.subplots(figsize=(7, 4.5))
    offered = [r["offered_per_s"] for r in rows]
    if rows:
        ax.plot(offered, offered, "k:", label="offered")
        ax.plot(offered, [r["achieved_per_s"] for r in rows], "o-", label="submitted")
        ax.plot(offered, [r["handed_over_per_s"] for r in rows], "s-", label="handed over at VN")
    x = figures.get("exchange") or {}
    for key, label, style in (
        ("raw_per_s", "raw pika ceiling", "--"),
        ("naive_per_s", "naive pika publisher", "-."),
    ):
        if x.get(key):
            ax.axhline(x[key], linestyle=style, color="grey", label=f"{label} ({x[key]:,.0f}/s)")
    _log_axes(ax, offered)
    ax.set_xlabel("offered load (enquiries/s)")
    ax.set_ylabel("throughput (msgs/s)")
    ax.set_title(f"Throughput against offered load ({figures.get('mode', '?')} run)")
    ax.grid(visible=True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_latency(figures: dict[str, Any], path: Path) -> None:
    rows = [r for r in figures.get("latency") or [] if r.get("handed_over_ms")]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    offered = [r["offered_per_s"] for r in rows]
    for block, label, marker, color in (
        ("handed_over_ms", "handed over", "o", "tab:blue"),
        ("receipt_ms", "receipt", "^", "tab:orange"),
    ):
        for quantile, style in (("p50", "-"), ("p95", "--"), ("p99", ":")):
            points = [
                (o, r[block][quantile]) for o, r in zip(offered, rows, strict=True) if r[block]
            ]
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(
                    xs, ys, marker=marker, linestyle=style, color=color, label=f"{label} {quantile}"
                )
    ax.axhline(
        LATENCY_P99_MS, color="red", linewidth=0.8, label=f"target p99 {LATENCY_P99_MS:g} ms"
    )
    for o, r in zip(offered, rows, strict=True):
        if not r["sustained"]:
            ax.annotate(
                f"not sustained: {r['achieved_per_s']:,.0f}/s",
                (o, r["handed_over_ms"]["p99"]),
                fontsize="x-small",
            )
    _log_axes(ax, offered)
    ax.set_xlabel("offered load (enquiries/s)")
    ax.set_ylabel("latency from submit (ms)")
    ax.set_title(f"Latency against offered load ({figures.get('mode', '?')} run)")
    ax.grid(visible=True, which="both", alpha=0.3)
    ax.legend(fontsize="x-small", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write(figures: dict[str, Any], folder: Path) -> list[Path]:
    """Write the four files into ``folder`` (made if missing); returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    verdicts = evaluate(figures)
    document = {k: v for k, v in figures.items() if k != "targets"}
    document["targets"] = [v.as_dict() for v in verdicts]
    paths = [folder / name for name in FILES]
    paths[0].write_text(markdown(figures, verdicts), encoding="utf-8")
    paths[1].write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
    _plot_throughput(figures, paths[2])
    _plot_latency(figures, paths[3])
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rewrite a run's report from its report.json.")
    parser.add_argument("json_file", type=Path, help="a report.json written by bench.run")
    parser.add_argument("--out", type=Path, help="folder for the report (default: the file's)")
    args = parser.parse_args(argv)
    figures = json.loads(args.json_file.read_text(encoding="utf-8"))
    for path in write(figures, args.out or args.json_file.parent):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
