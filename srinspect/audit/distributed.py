"""Distributed audits on Dask: the parallel audit's work units, run on a cluster.

Why Dask: operators already run it, it restarts dead workers and reschedules their tasks, and
it needs nothing from us but picklable functions. The pieces are the parallel audit's
(pool.py): the same work units (split.py: whole files, record-aligned chunks of large
ones), the same unit audit (``audit_unit_with``), the same tiling rule at the merge. So
``--scheduler`` gives what ``--workers 1`` gives: same findings, same order, same counts.

How a run goes:

- The client plans units (it reads each file's size and first 64 KiB), then keeps a bounded
  window of unit tasks on the cluster. Each task key is the unit id (run, file, unit), so a
  task that Dask retries after a worker died, or after an exception (``retries=``), still
  produces one result for that id, and the merge ignores any id it has already seen.
- Results are reduced as they arrive (``as_completed``): a reorder buffer releases them in
  input order; a split file's units are folded into a staging report (report.UnitMerge,
  the parallel audit's merge; findings spill to disk like the report's) and committed when
  the last unit shows that the units tiled the file. A file whose units do not tile
  (damage, a resync gone astray, an interface declared mid-file) is audited again as one
  whole-file task, exactly like the parallel fallback.
- A worker runs one unit per task and returns only that unit's findings (capped by
  ``--max-findings``); the client fetches each result when it completes and drops the future,
  so the worker forgets it. The window bounds both the client's reorder buffer and what the
  cluster holds.
- HMAC keys travel inside the task arguments, in memory: pickled client -> scheduler ->
  worker, never scattered (scattered data can be spilled to a worker's disk) and never
  registered as a plugin (which would outlive the run on a shared scheduler). When Dask logs a
  failed task it prints ``repr`` of the arguments, and ``Keyring``/``Key`` reprs hide secrets.

Dask is an optional extra: this module imports it only inside functions, so importing
srinspect never needs it, and the CLI can tell the user what to install.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from .. import __version__
from ..inspector import Inspector
from ..keys import Keyring
from ..rules import Profile
from .inputs import expand_url_inputs, input_size, is_url
from .pool import audit_unit_with, plan
from .progress import AuditProgress
from .progress import wanted as progress_wanted
from .report import AuditReport, UnitMerge, UnitResult
from .sequential import StreamAuditor
from .split import MIN_UNIT, WorkUnit

if TYPE_CHECKING:
    from distributed import Client

INSTALL_HINT = "--scheduler needs Dask: pip install 'srinspect[dask]'"
DEFAULT_RETRIES = 3  # task retries after an exception (a worker's death is Dask's allowed-failures)
CONNECT_TIMEOUT = 10.0  # seconds to reach a scheduler
WORKERS_TIMEOUT = 60.0  # seconds to wait for a first worker on a scheduler that has none
REDO = -1  # unit index of a whole-file re-audit after units that did not tile

UnitId = tuple[int, int]  # (file index, unit index); REDO as unit index for a re-audit
UnitTask = Callable[[WorkUnit, Profile, "Keyring | None", "int | None"],
                    "UnitResult | AuditReport"]


class DistributedError(Exception):
    """The cluster could not produce a report (no Dask, unreachable, a unit kept failing)."""


def dask_available() -> bool:
    """True when ``dask.distributed`` can be imported."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


# ---------------------------------------------------------------------------------------------
# What runs on the workers


def run_unit(unit: WorkUnit, profile: Profile, keyring: Keyring | None,
             max_findings: int | None) -> UnitResult | AuditReport:
    """Audit one unit on a worker: a chunk gives a UnitResult, a whole file an AuditReport.

    A fresh Inspector per task: workers may run several tasks at once in threads, and the
    Inspector's counters must belong to one unit. It costs microseconds against a unit's
    seconds.
    """
    if unit.kind == "whole":
        auditor = StreamAuditor(profile, keyring, max_findings=max_findings)
        return auditor.audit_files([unit.path])
    return audit_unit_with(unit, Inspector(profile, keyring), max_findings)


def worker_version() -> str:
    """srinspect's version on a worker: units must be audited by the same rules everywhere."""
    return __version__


# ---------------------------------------------------------------------------------------------
# The merge


class Merger:
    """Folds unit results into one report in input order, whatever order they arrive in.

    ``offer`` takes a result (and says whether it was new: a unit id is counted once);
    ``drain`` merges everything that is next in line and returns the index of a file that
    must be re-audited whole, if one just turned out not to tile.
    """

    def __init__(self, report: AuditReport, paths: Sequence[str], units: Sequence[WorkUnit]):
        self.report = report
        self.paths = list(paths)
        self.files: list[list[WorkUnit]] = [[] for _ in self.paths]
        for u in units:
            self.files[u.file_index].append(u)
        for file_units in self.files:
            file_units.sort(key=lambda u: u.unit_index)
        self.pending: dict[UnitId, UnitResult | AuditReport] = {}
        self.seen: set[UnitId] = set()  # ids offered once: later copies are ignored
        self.dropped: set[int] = set()  # files being re-audited whole: their units are moot
        self.redo: set[int] = set()
        self.cur = 0  # file being merged
        self.nxt = 0  # its next unit
        self.stage: UnitMerge | None = None

    @property
    def finished(self) -> bool:
        return self.cur >= len(self.files)

    def wanted(self, uid: UnitId) -> bool:
        """Whether a unit's result is still needed (not for files being redone whole)."""
        return uid not in self.seen and (uid[1] == REDO or uid[0] not in self.dropped)

    def offer(self, uid: UnitId, result: UnitResult | AuditReport) -> bool:
        if not self.wanted(uid):
            return False
        self.seen.add(uid)
        self.pending[uid] = result
        return True

    def drain(self) -> int | None:
        while not self.finished:
            fi = self.cur
            if fi in self.redo:
                whole = self.pending.pop((fi, REDO), None)
                if whole is None:
                    return None
                assert isinstance(whole, AuditReport)
                self.report.merge(whole)
                self._next_file()
                continue
            res = self.pending.pop((fi, self.nxt), None)
            if res is None:
                return None
            unit = self.files[fi][self.nxt]
            if isinstance(res, AuditReport):
                self.report.merge(res)
                self._next_file()
                continue
            if self.nxt == 0:
                self.stage = UnitMerge(unit.path, self.report)
            assert self.stage is not None
            self.nxt += 1
            if not self.stage.add(res) or (
                    self.nxt == len(self.files[fi]) and not self.stage.commit(self.report)):
                return self._redo(fi)
            if self.nxt == len(self.files[fi]):
                self._next_file()
        return None

    def _redo(self, fi: int) -> int:
        self.redo.add(fi)
        self.dropped.add(fi)
        self.stage = None
        for uid in [k for k in self.pending if k[0] == fi and k[1] != REDO]:
            del self.pending[uid]
        return fi

    def _next_file(self) -> None:
        self.cur += 1
        self.nxt = 0
        self.stage = None


# ---------------------------------------------------------------------------------------------
# The driver


class UnitProgress(Protocol):
    """What the driver reports to: the plan, then each unit as its result arrives."""

    def start(self, units: Sequence[WorkUnit]) -> None: ...

    def unit_done(self, unit: WorkUnit, packets: int) -> None: ...


class _Tally:
    """Tells the progress about each planned unit once, whether its own result was merged or
    its file was re-audited whole (then the file's unreported units finish with the re-audit,
    carrying the packets the units had not reported)."""

    def __init__(self, progress: UnitProgress, merger: Merger) -> None:
        self.progress = progress
        self.merger = merger
        self.reported: set[UnitId] = set()
        self.file_packets: Counter[int] = Counter()

    def arrived(self, uid: UnitId, result: UnitResult | AuditReport) -> None:
        fi = uid[0]
        if uid[1] != REDO:
            unit = self.merger.files[fi][uid[1]]
            packets = result.packets if isinstance(result, AuditReport) else result.frames
            self._report(unit, packets)
            return
        assert isinstance(result, AuditReport)
        extra = max(result.packets - self.file_packets[fi], 0)
        for unit in self.merger.files[fi]:
            if (fi, unit.unit_index) not in self.reported:
                self._report(unit, extra)
                extra = 0

    def _report(self, unit: WorkUnit, packets: int) -> None:
        self.reported.add((unit.file_index, unit.unit_index))
        self.file_packets[unit.file_index] += packets
        self.progress.unit_done(unit, packets)


def _threads(client: Client) -> int:
    return max(sum(client.nthreads().values()), 1)


def audit_distributed(client: Client, paths: Sequence[str], profile: Profile = Profile.DRAFT04,
                      keyring: Keyring | None = None, max_findings: int | None = None, *,
                      min_unit: int = MIN_UNIT, retries: int = DEFAULT_RETRIES,
                      progress: UnitProgress | None = None, window: int | None = None,
                      task: UnitTask = run_unit) -> AuditReport:
    """The same report as ``Auditor(profile, keyring, max_findings).audit_files(paths)``,
    computed by the workers of ``client``'s cluster.

    ``paths`` are local paths the workers can read or fsspec URLs. ``window`` bounds the
    units submitted but not yet merged (default: four per worker thread). ``task`` is what
    each unit runs (default ``run_unit``); a wrapper can instrument units (the tests use one
    to kill a worker in the middle of a unit). Raises DistributedError when a unit fails for
    good (its exception after ``retries``, or Dask's KilledWorker).
    """
    from distributed import as_completed

    paths = list(paths)
    threads = _threads(client)
    units = plan(paths, threads, min_unit)
    if progress is not None:
        progress.start(units)
    report = AuditReport(profile, max_findings=max_findings)
    merger = Merger(report, paths, units)
    run = uuid.uuid4().hex[:12]
    limit = window or max(4 * threads, 8)
    queue = deque(enumerate(units))
    live: dict[str, tuple[UnitId, WorkUnit, Any]] = {}  # task key -> (id, unit, future)
    done = as_completed(with_results=True, raise_errors=False)

    def submit(unit: WorkUnit, uid: UnitId, priority: int) -> None:
        key = f"srinspect-unit-{run}-{uid[0]}-{'redo' if uid[1] == REDO else uid[1]}"
        fut = client.submit(task, unit, profile, keyring, max_findings, key=key, pure=False,
                            retries=retries, priority=priority)
        live[key] = (uid, unit, fut)
        done.add(fut)

    def fill() -> None:
        while queue and len(live) + len(merger.pending) < limit:
            seq, unit = queue.popleft()
            uid = (unit.file_index, unit.unit_index)
            if merger.wanted(uid):
                submit(unit, uid, -seq)  # input order first: the merge needs the head

    tally = _Tally(progress, merger) if progress is not None else None
    fill()
    try:
        for fut, result in done:
            uid, unit, _ = live.pop(fut.key)
            if fut.status != "finished":
                what = ("the whole file" if unit.kind == "whole"
                        else f"unit {uid[1]} (bytes {unit.start}-{unit.stop})")
                cause = result[1] if isinstance(result, tuple) else result  # (type, exc, tb)
                raise DistributedError(f"{unit.path}: {what} failed on the cluster: {cause!r}")
            del fut
            if merger.offer(uid, result) and tally is not None:
                tally.arrived(uid, result)
            del result
            redo = merger.drain()
            if redo is not None:
                whole = WorkUnit(paths[redo], redo, 0, 0, 0, "whole")
                submit(whole, (redo, REDO), 1 << 30)  # everything waits on it: run it first
            fill()
    finally:
        if live:
            client.cancel([f for _, _, f in live.values()])
    if not merger.finished:
        raise DistributedError("the cluster returned fewer units than were planned")
    return report


# ---------------------------------------------------------------------------------------------
# Connecting


def parse_scheduler(spec: str) -> int | str:
    """``local`` / ``local:N`` -> worker count for a LocalCluster; anything else is an address.

    Raises ValueError for ``local:`` followed by something other than a positive integer.
    """
    if spec == "local":
        return os.cpu_count() or 1
    if spec.startswith("local:"):
        text = spec[len("local:"):]
        if not text.isdigit() or int(text) < 1:
            raise ValueError(f"--scheduler {spec}: use local:N with N >= 1 worker processes")
        return int(text)
    return spec


@contextmanager
def connect(spec: str, *, timeout: float = CONNECT_TIMEOUT,
            workers_timeout: float = WORKERS_TIMEOUT) -> Iterator[Client]:
    """A Client for ``--scheduler SPEC``; a LocalCluster for ``local[:N]`` (closed after).

    Local workers are processes with one thread each: the audit is pure Python, so threads
    would only share one GIL. The HTTP server takes a free port (":0"), so several audits can
    run side by side; its dashboard pages need bokeh.
    """
    from distributed import Client, LocalCluster

    target = parse_scheduler(spec)
    if isinstance(target, int):
        with LocalCluster(n_workers=target, threads_per_worker=1, processes=True,
                          dashboard_address=":0", silence_logs=logging.ERROR) as cluster, \
                Client(cluster) as client:
            yield client
        return
    try:
        client = Client(target, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise DistributedError(f"cannot reach the Dask scheduler at {target}: {exc}") from None
    with client:
        try:
            client.wait_for_workers(1, timeout=workers_timeout)
        except TimeoutError:
            raise DistributedError(f"no Dask worker joined {target} within "
                                   f"{workers_timeout:.0f} s (start some with "
                                   f"`dask worker {target}`)") from None
        yield client


def check_workers(client: Client) -> None:
    """Every worker must import this srinspect version (else reports could differ)."""
    try:
        versions = client.run(worker_version)
    except Exception as exc:  # noqa: BLE001 - whatever the workers raised, say so
        raise DistributedError(f"workers cannot run srinspect ({exc!r}): install "
                               f"srinspect[dask]=={__version__} on every worker") from None
    wrong = {addr: v for addr, v in versions.items() if v != __version__}
    if wrong:
        listed = ", ".join(f"{a} has {v}" for a, v in sorted(wrong.items()))
        raise DistributedError(f"workers run another srinspect version than {__version__}: "
                               f"{listed}")


# ---------------------------------------------------------------------------------------------
# Progress and the CLI


class ClusterProgress(AuditProgress):
    """The audit bar, counting units done and packets/s across the cluster (TTY only)."""

    def __init__(self, sizes: dict[str, int], enabled: bool) -> None:
        super().__init__(sum(sizes.values()), enabled)
        self.sizes = sizes
        self.units_total = 0
        self.units_done = 0

    def start(self, units: Sequence[WorkUnit]) -> None:
        self.units_total = len(units)
        self.update(self._label(), 0, 0)

    def unit_done(self, unit: WorkUnit, packets: int) -> None:
        self.units_done += 1
        self.done_files += (unit.stop - unit.start) or self.sizes.get(unit.path, 0)
        self.packets += packets
        self.update(self._label(), self.packets, 0)

    def _label(self) -> str:
        return f"{self.units_done} of {self.units_total} units"


def _fail(message: str) -> NoReturn:
    print(f"srinspect: {message}", file=sys.stderr)
    raise SystemExit(2)


def cli_audit(args: argparse.Namespace, keyring: Keyring, inputs: list[str]) -> AuditReport:
    """``srinspect audit --scheduler SPEC``: usage problems print a message and exit 2."""
    if not dask_available():
        _fail(INSTALL_HINT)
    if "-" in inputs:
        _fail("--scheduler cannot audit stdin (-): the workers read the inputs themselves")
    try:
        parse_scheduler(args.scheduler)
        inputs = expand_url_inputs(inputs)
    except (ValueError, OSError) as exc:
        _fail(str(exc))
    if isinstance(parse_scheduler(args.scheduler), str):
        for path in inputs:
            if not is_url(path) and not os.path.isabs(path):
                print(f"srinspect: warning: {path} is relative: each worker reads it from its "
                      "own working directory (give absolute paths or URLs)", file=sys.stderr)
    sizes: dict[str, int] = {}
    for path in inputs:
        try:
            sizes[path] = input_size(path)
        except OSError:
            sizes[path] = 0  # the auditor reports it
    try:
        with connect(args.scheduler) as client:
            check_workers(client)
            with ClusterProgress(sizes, progress_wanted(args.progress)) as bar:
                return audit_distributed(client, inputs, args.profile, keyring,
                                         args.max_findings, progress=bar)
    except (DistributedError, OSError) as exc:  # OSError: the scheduler went away mid-run
        _fail(str(exc))
