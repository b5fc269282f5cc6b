"""``audit verify``: check a whole log with public keys only, on every core, reporting every
problem with where it is (docs/exchange-log.md, "Verification").

Structural checks re-derive every leaf hash and the whole tree from the stored entries, compare
the stored tree (tiles), open every stored checkpoint with the office's log key, compare its
root with the entries' root at its size, look for forks, and check each checkpoint's
consistency with the next one. Full checks add, per entry: it decodes; and per envelope it
names: stored (or purged), hashes to its name, signed by its sender (``verify_envelope``, with
the directory's key valid at the envelope's time), and the message the entry says.

The entries are split into aligned chunks, checked in worker processes (each opens the file
read-only), so a million entries take a few seconds; the chunks' peaks are folded here.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from broker.envelope import DirectoryView, Limits
from broker.errors import InputError, IntegrityError
from broker.exchange_log.checkpoint_check import check_checkpoints, open_checkpoints
from broker.exchange_log.entry import EventType
from broker.exchange_log.envelope_check import EnvelopeFindings, check_envelopes
from broker.exchange_log.envelope_store import EnvelopeStore
from broker.exchange_log.log_keys import LogKeys
from broker.exchange_log.report import Problem, ProblemCode, VerifyReport, merge_runs
from broker.exchange_log.sqlite_store import ExchangeLog
from broker.exchange_log.tiles import (
    TILE_HEIGHT,
    fold_peaks,
    levels_of,
    prefix_peaks,
    tile_widths,
)
from broker.exchange_log.tree_check import (
    ChunkTree,
    check_chunk_tree,
    check_whole_chunk,
    stored_row,
)

_TREE_DAMAGE = frozenset(
    {
        ProblemCode.ENTRY_INDEX,
        ProblemCode.ENTRY_MISSING,
        ProblemCode.LEAF_MISMATCH,
        ProblemCode.TREE_MISSING,
        ProblemCode.NODE_MISMATCH,
        ProblemCode.TREE_EXTRA,
    }
)
MIN_CHUNK = 1 << 10
MAX_CHUNK = 1 << 16
Progress = Callable[[int, int], None]  # (entries done, entries in all)


@dataclass(frozen=True, slots=True)
class _ChunkOutcome:
    tree: ChunkTree
    envelopes: EnvelopeFindings | None


class _ChunkChecker:
    """Checks chunks against one open, read-only log (one per worker process)."""

    def __init__(
        self,
        path: Path,
        envelopes: Path | None,
        directory: DirectoryView | None,
        purged_before: int,
        limits: Limits,
    ) -> None:
        self.log = ExchangeLog.open_existing(path)
        self.store = None if envelopes is None else EnvelopeStore(envelopes)
        self.directory = directory
        self.purged_before = purged_before
        self.limits = limits

    def run(self, start: int, end: int, sizes: tuple[int, ...]) -> _ChunkOutcome:
        blobs = self.log.entry_blobs(start, end)
        rows: Sequence[tuple[int, bytes]]
        if len(blobs) == end - start:  # no gap: indices are implied
            tree = check_whole_chunk(start, blobs, self.log.tile_range, sizes)
            rows = (
                [(start + i, data) for i, (data,) in enumerate(blobs)]
                if self.store is not None
                else ()
            )
        else:
            rows = self.log.entry_range(start, end)
            tree = check_chunk_tree(start, end, rows, self.log.tile_range, sizes)
        findings = None
        if self.store is not None and self.directory is not None:
            findings = check_envelopes(
                rows,
                read_envelope=self.store.get,
                directory=self.directory,
                purged_before=self.purged_before,
                limits=self.limits,
            )
        return _ChunkOutcome(tree, findings)


_WORKER: list[_ChunkChecker] = []  # the worker process's checker, set by its initializer


def _init_worker(*args: object) -> None:
    _WORKER.append(_ChunkChecker(*args))  # type: ignore[arg-type]


def _run_in_worker(start: int, end: int, sizes: tuple[int, ...]) -> _ChunkOutcome:
    return _WORKER[0].run(start, end, sizes)


def _context() -> multiprocessing.context.BaseContext:
    # fork is cheapest; it is only safe while this process has a single thread.
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def chunk_size_for(entries: int, workers: int) -> int:
    """A power of two giving each worker about eight chunks (so that they finish together),
    within [2**10, 2**16]."""
    want = max(1, entries // (8 * workers))
    return min(MAX_CHUNK, max(MIN_CHUNK, 1 << (want - 1).bit_length()))


def _chunks(
    entries: int, chunk: int, sizes: Iterable[int]
) -> list[tuple[int, int, tuple[int, ...]]]:
    wanted = sorted(set(sizes))
    jobs = []
    for start in range(0, entries, chunk):
        end = min(start + chunk, entries)
        jobs.append((start, end, tuple(s for s in wanted if start < s <= end)))
    return jobs


def _run_chunks(
    jobs: list[tuple[int, int, tuple[int, ...]]],
    checker_args: tuple[object, ...],
    workers: int,
    progress: Progress | None,
    total: int,
) -> list[_ChunkOutcome]:
    done = 0
    if workers <= 1 or len(jobs) <= 1:
        checker = _ChunkChecker(*checker_args)  # type: ignore[arg-type]
        outcomes = []
        try:
            for start, end, sizes in jobs:
                outcomes.append(checker.run(start, end, sizes))
                done += end - start
                if progress:
                    progress(done, total)
        finally:
            checker.log.close()
        return outcomes
    with ProcessPoolExecutor(
        max_workers=min(workers, len(jobs)),
        mp_context=_context(),
        initializer=_init_worker,
        initargs=checker_args,
    ) as pool:
        futures: list[Future[_ChunkOutcome]] = [pool.submit(_run_in_worker, *job) for job in jobs]
        for future, (start, end, _) in zip(futures, jobs, strict=True):
            future.result()
            done += end - start
            if progress:
                progress(done, total)
        return [f.result() for f in futures]


class _Tree:
    """The whole tree, from the chunks' peaks: roots at any size, upper stored levels checked."""

    def __init__(self, outcomes: list[_ChunkOutcome], chunk: int) -> None:
        self.chunk = chunk
        self.chunk_level = chunk.bit_length() - 1
        full = [o.tree for o in outcomes if o.tree.end - o.tree.start == chunk]
        self.upper = levels_of([t.peaks[0] for t in full])
        self.by_start = {o.tree.start: o.tree for o in outcomes}

    def root_at(self, size: int) -> bytes:
        if size == 0:
            return fold_peaks([])
        start = (size - 1) // self.chunk * self.chunk
        local = self.by_start[start].size_peaks.get(size)
        if local is None:
            local = self.by_start[start].peaks  # the chunk's end (asked for the whole tree)
        return fold_peaks([*prefix_peaks(self.upper, start // self.chunk), *local])

    def upper_problems(self, log: ExchangeLog, explained: list[Problem]) -> list[Problem]:
        """Compare stored tiles above the chunk level with the nodes folded from the chunks."""
        ranges = sorted(
            (p.entry, p.last_entry if p.last_entry is not None else p.entry)
            for p in explained
            if p.entry is not None
        )
        problems = []
        tile_level = self.chunk_level // TILE_HEIGHT + 1
        while TILE_HEIGHT * tile_level - self.chunk_level < len(self.upper):
            level = TILE_HEIGHT * tile_level
            computed = self.upper[level - self.chunk_level]
            row = stored_row(log.tile_range, tile_level, 0, len(computed))
            for position, value in enumerate(computed):
                lo, hi = position << level, ((position + 1) << level) - 1
                if row.at(position) == value or any(a <= hi and b >= lo for a, b in ranges):
                    continue
                missing = row.at(position) is None
                problems.append(
                    Problem(
                        ProblemCode.TREE_MISSING if missing else ProblemCode.NODE_MISMATCH,
                        f"stored node ({level}, {position}) "
                        + ("is missing" if missing else "is not the hash of these entries"),
                        lo,
                        hi,
                    )
                )
            tile_level += 1
        return problems


def _extra_tiles(widths: Mapping[tuple[int, int], int], entries: int) -> list[Problem]:
    expected = tile_widths(entries)
    problems = []
    for (tile_level, index), width in sorted(widths.items()):
        want = expected.get((tile_level, index), 0)
        if width > want:
            first = ((index << TILE_HEIGHT) + want) << (TILE_HEIGHT * tile_level)
            problems.append(
                Problem(
                    ProblemCode.TREE_EXTRA,
                    f"the stored tree has {width - want} node(s) at level "
                    f"{TILE_HEIGHT * tile_level} beyond the log's {entries} entries: "
                    f"entries from {first} were removed",
                    entry=max(first, entries),
                )
            )
    return problems


def _check_purges(
    log: ExchangeLog, purges: tuple[tuple[int, int], ...]
) -> tuple[int, list[Problem]]:
    """The highest purge boundary whose record matches a purge entry, and mismatches."""
    boundary, problems = 0, []
    for index, before in purges:
        try:
            entry = log.entry(index)
        except (InputError, IntegrityError):
            entry = None
        if (
            entry is None
            or entry.event is not EventType.ENVELOPES_PURGED
            or (entry.purged_before != before)
        ):
            problems.append(
                Problem(
                    ProblemCode.PURGE_RECORD,
                    f"a purge record (before entry {before}) names this entry, which is no such "
                    "purge",
                    entry=index,
                )
            )
            continue
        boundary = max(boundary, before)
    return boundary, problems


def verify_log(
    path: Path,
    *,
    log_keys: LogKeys,
    directory: DirectoryView | None = None,
    envelopes: Path | None = None,
    full: bool = False,
    workers: int | None = None,
    chunk_size: int | None = None,
    limits: Limits = Limits(),  # noqa: B008 - a frozen value
    progress: Progress | None = None,
) -> VerifyReport:
    """Verify the log at ``path``; every problem is in the report (none is raised).

    Full checks need ``directory`` and ``envelopes`` (the envelope store's folder). Raises only
    when the file cannot be read at all (IntegrityError: not a log, corrupt; InputError: none).
    """
    if full and (directory is None or envelopes is None):
        raise InputError("full verification needs the directory and the envelope store")
    started = time.perf_counter()
    with ExchangeLog.open_existing(path) as log:
        snapshot = log.snapshot()
        entries = snapshot.entry_count
        problems: list[Problem] = []
        if snapshot.lowest_index < 0:
            problems.append(
                Problem(ProblemCode.ENTRY_INDEX, "entries are stored below index 0", entry=0)
            )
        problems += _extra_tiles(snapshot.tile_widths, entries)
        boundary, purge_problems = _check_purges(log, snapshot.purges)
        problems += purge_problems
        opened, opening_problems = open_checkpoints(
            snapshot.checkpoints, log_keys, log.office_id, log.origin
        )
        problems += opening_problems
        workers = workers or default_workers()
        chunk = chunk_size or chunk_size_for(entries, workers)
        if chunk & (chunk - 1):
            raise InputError(f"chunk size {chunk} is not a power of two")
        sizes = [c.checkpoint.size for _, c in opened if 0 < c.checkpoint.size <= entries]
        jobs = _chunks(entries, chunk, [*sizes, entries])
        args = (path, envelopes if full else None, directory if full else None, boundary, limits)
        outcomes = _run_chunks(jobs, args, workers, progress, entries)
        tree_problems = [p for o in outcomes for p in o.tree.problems]
        tree = _Tree(outcomes, chunk)
        problems += tree_problems + tree.upper_problems(log, tree_problems)
        damaged = [p.entry for p in problems if p.code in _TREE_DAMAGE and p.entry is not None]
        problems += check_checkpoints(
            opened, log, entries, tree.root_at, min(damaged, default=entries)
        )
        findings = [o.envelopes for o in outcomes if o.envelopes is not None]
        problems += [p for f in findings for p in f.problems]
        problems += _purge_entries_recorded(findings, snapshot.purges) if full else []
        return VerifyReport(
            path=str(path),
            office_id=log.office_id,
            origin=log.origin,
            entries=entries,
            tree_size=sum(w for (lv, _), w in snapshot.tile_widths.items() if lv == 0),
            checkpoints=len(snapshot.checkpoints),
            full=full,
            envelopes_checked=sum(f.checked for f in findings),
            envelopes_purged=sum(f.purged for f in findings),
            problems=merge_runs(problems),
            seconds=time.perf_counter() - started,
        )


def _purge_entries_recorded(
    findings: list[EnvelopeFindings], purges: tuple[tuple[int, int], ...]
) -> list[Problem]:
    recorded = set(purges)
    return [
        Problem(
            ProblemCode.PURGE_RECORD,
            f"the entry records a purge before entry {before} that the purge records lack",
            entry=index,
        )
        for f in findings
        for index, before in f.purge_entries
        if (index, before) not in recorded
    ]
