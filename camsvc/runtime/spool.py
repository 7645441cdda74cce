"""A node's local queue of check results while the central database is away (docs/spool.md).

The writer (:class:`camsvc.runtime.scheduler.CheckScheduler`) appends a result here when the database
cannot be reached, and every later result too while anything is queued (so the database sees them in
the order they were probed); when the database answers again it replays them oldest first and removes
each one once recorded. A check already recorded (the unique camera + due time) is skipped.

Why a SQLite file and not JSON-lines segments: an append is one transaction (``synchronous=FULL``: on
disk when :meth:`Spool.append` returns, so results spooled before a crash or a power cut replay after the
restart), a torn write is rolled back by SQLite rather than left as half a line to repair, the oldest
rows come back by their rowid in order, and summarising rewrites a few rows in place instead of
rewriting whole segment files. The rate is small (2,000 cameras at 60 s is 33 results a second) and
results arriving together are appended in one transaction. The file lives in ``settings.spool_dir``, on
the node, never on the database's disk.

The bound (``node.spool_max_mb``) counts the stored records' bytes. Beyond it :func:`plan_summary`
decides what goes, oldest first; it is pure and table-tested.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from camsvc.enums import ErrorClass, StreamKind
from camsvc.probing.result import ProbeResult
from camsvc.runtime.checks import CameraEntry

log = logging.getLogger(__name__)

SPOOL_FILE = "checks-spool.sqlite3"
LOW_WATER = 0.9  # summarising frees down to this share of the bound, so it does not run on every append


# ---------------------------------------------------------------------------------------------- policy
@dataclass(frozen=True)
class Item:
    """One spooled record as the policy sees it: its order (*id*, oldest lowest), its camera, its
    outcome (results of one outcome are interchangeable for the health state machine), its size and how
    many checks it stands for (more than 1 once the checks after it were summarised into it)."""

    id: int
    camera_id: str
    outcome: str
    nbytes: int
    count: int = 1


@dataclass(frozen=True)
class Plan:
    """What to do to the spool: delete *summarised* (their checks are counted into the record that ends
    their run: *counts*, record id -> its new count), delete *dropped* (lost altogether, the last
    resort) and the bytes this frees."""

    summarised: tuple[int, ...] = ()
    counts: dict[int, int] = field(default_factory=dict)
    dropped: tuple[int, ...] = ()
    dropped_checks: int = 0
    freed: int = 0


def plan_summary(items: Sequence[Item], excess_bytes: int, keep_head: int) -> Plan:
    """Free at least *excess_bytes* from *items* (oldest first), oldest runs first.

    A run is a camera's consecutive records (other cameras' records in between do not break it) with the
    same outcome. A run longer than ``keep_head + 1`` keeps its first *keep_head* records and its last;
    the ones between are deleted and counted into the last. With *keep_head* at least the state
    machine's thresholds (fail, recover, degrade), the replayed checks still reach every threshold at the
    same check as the real ones did, so a transition keeps its time: an outage's start is its first
    failed check, its end the first good one, both kept; the last record keeps when the run was last
    seen. Runs are taken oldest first (by their first record) until enough is freed.

    What is lost: each deleted check's own row (its time, open time, fps, picture metrics), so the check
    history and the hourly rollup have fewer checks for that period (the count in the last record says
    how many); a picture fault judged from metrics that began inside a summarised run of good probes is
    seen only at the run's last record. If summarising every run frees too little (outcomes alternate
    on every check), the oldest records are dropped whole, counted in ``dropped_checks``.
    """
    if excess_bytes <= 0 or not items:
        return Plan()
    keep_head = max(1, keep_head)
    runs: list[list[Item]] = []
    open_run: dict[str, list[Item]] = {}  # camera -> its current run
    for it in sorted(items, key=lambda i: i.id):
        run = open_run.get(it.camera_id)
        if run is None or run[-1].outcome != it.outcome:
            run = [it]
            open_run[it.camera_id] = run
            runs.append(run)  # appended at its first record: runs are ordered by their start
        else:
            run.append(it)
    freed = 0
    summarised: list[int] = []
    counts: dict[int, int] = {}
    for run in runs:
        if freed >= excess_bytes:
            break
        if len(run) <= keep_head + 1:
            continue
        middle = run[keep_head:-1]
        summarised += [m.id for m in middle]
        counts[run[-1].id] = run[-1].count + sum(m.count for m in middle)
        freed += sum(m.nbytes for m in middle)
    dropped: list[int] = []
    dropped_checks = 0
    if freed < excess_bytes:
        gone = set(summarised)
        for it in sorted(items, key=lambda i: i.id):
            if freed >= excess_bytes:
                break
            if it.id in gone:
                continue
            dropped.append(it.id)
            dropped_checks += counts.pop(it.id, it.count)
            freed += it.nbytes
    return Plan(tuple(summarised), counts, tuple(dropped), dropped_checks, freed)


def outcome_of(result: ProbeResult) -> str:
    """The outcome key of a result: ok, or its error class; with the probe's own faults."""
    base = "ok" if result.ok else f"fail:{result.error.value if result.error else 'error'}"
    return base + ("|" + ",".join(sorted(result.faults)) if result.faults else "")


# ---------------------------------------------------------------------------------------------- records
@dataclass
class Spooled:
    """One queued check: the camera as the writer needs it (no URL: credentials never reach the spool),
    the result (no frames, no thumbnail), its due time (epoch s) and how many checks it stands for."""

    entry: CameraEntry
    result: ProbeResult
    due_at: float | None
    count: int = 1

    @property
    def at(self) -> float | None:
        return self.result.started_at


def encode(rec: Spooled) -> tuple[str, str]:
    entry = dataclasses.asdict(rec.entry)
    entry.pop("url", None)
    return json.dumps(entry, separators=(",", ":")), json.dumps(
        rec.result.to_dict(), separators=(",", ":"), default=str
    )


def decode(entry_json: str, result_json: str, due_at: float | None, count: int) -> Spooled:
    e = json.loads(entry_json)
    entry = CameraEntry(url="", **e)
    r: dict[str, Any] = json.loads(result_json)
    known = {f.name for f in dataclasses.fields(ProbeResult)}
    r = {k: v for k, v in r.items() if k in known}
    r["error"] = ErrorClass(r["error"]) if r.get("error") else None
    r["stream_kind"] = StreamKind(r["stream_kind"]) if r.get("stream_kind") else None
    return Spooled(entry, ProbeResult(**r), due_at, count)


# ---------------------------------------------------------------------------------------------- the file
_SCHEMA = """
CREATE TABLE IF NOT EXISTS spooled (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    camera_id TEXT NOT NULL,
    due_at REAL,
    at REAL,
    outcome TEXT NOT NULL,
    count INTEGER NOT NULL DEFAULT 1,
    nbytes INTEGER NOT NULL,
    entry TEXT NOT NULL,
    result TEXT NOT NULL
)
"""


class Spool:
    """The durable, bounded, append-only queue (one SQLite file in *directory*). Thread-safe; the writer
    is its only appender and remover, :meth:`stats` may be called from anywhere."""

    def __init__(self, directory: Path, max_bytes: int, keep_head: int = 3):
        if max_bytes <= 0:
            raise ValueError(f"spool bound must be positive, got {max_bytes} bytes")
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / SPOOL_FILE
        self.max_bytes = int(max_bytes)
        self.keep_head = keep_head
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")  # before the table: space comes back to the disk
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)
        n, size = self._db.execute("SELECT count(*), coalesce(sum(nbytes), 0) FROM spooled").fetchone()
        self._count, self._bytes = int(n), int(size)
        self.replayed = 0  # records recorded from here (this process)
        self.summarised = 0  # records deleted by summarising, their checks counted into a later one
        self.dropped = 0  # checks lost: dropped whole beyond the bound, or not spooled at all (disk error)
        if self._count:
            log.info("spool %s holds %d results from before: they are replayed first", self.path, n)

    def __len__(self) -> int:
        return self._count

    def append(self, recs: Sequence[Spooled]) -> None:
        """Queue *recs* (in order) in one transaction, on disk when this returns; then keep the bound."""
        if not recs:
            return
        rows = []
        for r in recs:
            e, res = encode(r)
            rows.append(
                (r.entry.id, r.due_at, r.at, outcome_of(r.result), r.count, len(e) + len(res) + 64, e, res)
            )
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO spooled (camera_id, due_at, at, outcome, count, nbytes, entry, result) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._count += len(rows)
            self._bytes += sum(r[5] for r in rows)
            if self._bytes > self.max_bytes:
                self._summarise()

    def peek(self, n: int) -> list[tuple[int, Spooled]]:
        """The *n* oldest records with their ids (they stay queued until :meth:`remove`)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, entry, result, due_at, count FROM spooled ORDER BY id LIMIT ?", (n,)
            ).fetchall()
        return [(rid, decode(e, r, due, c)) for rid, e, r, due, c in rows]

    def remove(self, ids: Sequence[int], replayed: int = 0) -> None:
        """Delete records that were recorded (or skipped as recorded already)."""
        if not ids:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            (freed,) = self._db.execute(
                f"SELECT coalesce(sum(nbytes), 0) FROM spooled WHERE id IN ({','.join('?' * len(ids))})",
                tuple(ids),
            ).fetchone()
            cur = self._db.execute(
                f"DELETE FROM spooled WHERE id IN ({','.join('?' * len(ids))})", tuple(ids)
            )
            self._db.execute("COMMIT")
            self._count -= cur.rowcount
            self._bytes -= int(freed)
            self.replayed += replayed
            if self._count == 0:
                self._bytes = 0
                self._db.execute("PRAGMA incremental_vacuum")

    def _summarise(self) -> None:
        target = int(self.max_bytes * LOW_WATER)
        items = [
            Item(rid, cam, outcome, nbytes, count)
            for rid, cam, outcome, nbytes, count in self._db.execute(
                "SELECT id, camera_id, outcome, nbytes, count FROM spooled ORDER BY id"
            )
        ]
        plan = plan_summary(items, self._bytes - target, self.keep_head)
        gone = list(plan.summarised) + list(plan.dropped)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            for i in range(0, len(gone), 500):
                part = gone[i : i + 500]
                self._db.execute(f"DELETE FROM spooled WHERE id IN ({','.join('?' * len(part))})", part)
            self._db.executemany(
                "UPDATE spooled SET count = ? WHERE id = ?", [(c, rid) for rid, c in plan.counts.items()]
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._count -= len(gone)
        self._bytes -= plan.freed
        self.summarised += len(plan.summarised)
        self.dropped += plan.dropped_checks
        self._db.execute("PRAGMA incremental_vacuum")
        log.warning(
            "spool over its bound (%.1f MiB): %d results summarised, %d dropped (oldest first)",
            self.max_bytes / 1048576,
            len(plan.summarised),
            plan.dropped_checks,
        )

    def lost(self, n: int) -> None:
        """*n* checks could not be spooled at all."""
        with self._lock:
            self.dropped += n

    def stats(self) -> dict[str, Any]:
        """spooled (records queued), oldest_spooled_at (UTC datetime of the oldest queued check, or None),
        replayed, summarised, dropped, bytes."""
        with self._lock:
            (oldest,) = self._db.execute("SELECT min(at) FROM spooled").fetchone()
            return {
                "spooled": self._count,
                "oldest_spooled_at": dt.datetime.fromtimestamp(oldest, dt.UTC)
                if oldest is not None
                else None,
                "replayed": self.replayed,
                "summarised": self.summarised,
                "dropped": self.dropped,
                "bytes": self._bytes,
            }

    def close(self) -> None:
        with self._lock:
            self._db.close()
