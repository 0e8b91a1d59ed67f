"""Load user case files (``srinspect conformance list|run --cases DIR``).

Every ``*.py`` in a directory (not ``_*.py``; a file may also be named directly) is run as
its own module; its ``@case`` functions (``conformance.casefile``) join the catalogue after
the built-in cases. A file that does not load, a declaration that is wrong, or a case that
fails to build against a sample topology is a ``CaseError`` naming the file and line; the
file's (or that case's) cases are left out and everything else still runs.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from srinspect.keys import Key

from . import casefile
from .case import Case
from .casefile import CaseError, Declared
from .packets import Ctx
from .topology import Topology


@dataclass(slots=True)
class Loaded:
    """The user cases found, in file order, and what could not be loaded."""

    cases: list[Case] = field(default_factory=list)
    errors: list[CaseError] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def case_files(paths: Iterable[Path]) -> tuple[list[Path], list[CaseError]]:
    """The case files under ``paths`` (directories or files), sorted per directory."""
    files: list[Path] = []
    errors: list[CaseError] = []
    for path in paths:
        path = path.resolve()
        if path.is_dir():
            files += sorted(p for p in path.glob("*.py") if not p.name.startswith("_"))
        elif path.is_file() and path.suffix == ".py":
            files.append(path)
        else:
            errors.append(CaseError(str(path), "no such directory or .py case file"))
    return files, errors


def load(paths: Sequence[Path], builtin: Iterable[Case] = ()) -> Loaded:
    """Load every case file under ``paths``; IDs must not clash with ``builtin`` or each
    other (the first one wins, later ones are errors)."""
    files, errors = case_files(paths)
    out = Loaded(errors=errors, files=files)
    taken = {c.id: "the built-in catalogue" for c in builtin}
    for path in files:
        for declared in _run_file(path, out.errors):
            if declared.error is not None:
                out.errors.append(declared.error)
                continue
            assert declared.case is not None
            problem = _check(declared.case, taken)
            if problem:
                out.errors.append(problem)
                continue
            taken[declared.case.id] = declared.case.source
            out.cases.append(declared.case)
    return out


def _run_file(path: Path, errors: list[CaseError]) -> list[Declared]:
    """Execute one case file as a module and return what its ``@case`` calls declared."""
    name = "srinspect_user_cases." + path.stem.replace("-", "_") + "_" + \
        hashlib.sha1(str(path).encode()).hexdigest()[:8]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        errors.append(CaseError(str(path), "cannot be loaded as a Python file"))
        return []
    module = importlib.util.module_from_spec(spec)
    collected: list[Declared] = []
    casefile._collecting = collected
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        errors.append(CaseError(f"{path}:{exc.lineno or 0}", f"SyntaxError: {exc.msg}"))
        return []
    except Exception as exc:
        where = casefile._user_line(exc, f"{path}:0")
        errors.append(CaseError(where, f"{type(exc).__name__}: {exc}"))
        return []
    finally:
        casefile._collecting = None
    return collected


def _check(case: Case, taken: dict[str, str]) -> CaseError | None:
    """A clash of IDs, or a case that does not build against a sample topology (so the
    mistake shows at load time, with its line, rather than as an ERROR mid-run)."""
    if case.id in taken:
        return CaseError(case.source, f"case id {case.id!r} is already used by "
                         f"{taken[case.id]}")
    for profile in case.profiles:
        ctx = Ctx(SAMPLE_TOPOLOGY, profile, _SampleTags(), 1)
        try:
            sent = case.build(ctx)
            case.expect(ctx, sent)
        except LookupError:
            continue  # needs a SID/policy the sample lacks: judged by the real DUT
        except CaseError as exc:
            return exc
        except Exception as exc:  # a bug of the case file outside the user's function
            return CaseError(case.source, f"{type(exc).__name__}: {exc}")
    return None


class _SampleTags:
    """Tags for the load-time trial build (never sent)."""

    def __init__(self) -> None:
        self.seq = 0

    def __call__(self) -> bytes:
        from .packets import make_tag

        self.seq += 1
        return make_tag(b"\0\0\0\0", 0, self.seq)


def _sample_topology() -> Topology:
    from .dut.linux import DUT_ADDR, HMAC_KEY_ID, POLICIES, SENDER, SENDER_POOL, SIDS

    return Topology(sender=SENDER, dut=DUT_ADDR, downstream="2001:db8:f::/64",
                    barrier="2001:db8:f::ba77", downstream_alt="2001:db8:e::/64",
                    sids=dict(SIDS), policies=dict(POLICIES),
                    hmac_key=Key(HMAC_KEY_ID, "sha256", b"sample"), sender_pool=SENDER_POOL)


SAMPLE_TOPOLOGY = _sample_topology()
