"""Replay the fuzz seed corpus and every input that once broke something (regressions/)
through the same invariants the fuzzers check; plus a short real atheris run per target."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("fuzz_targets", REPO / "fuzz" / "targets.py")
assert _spec and _spec.loader
targets = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(targets)


def _inputs(kind: str) -> list[Path]:
    paths = sorted((HERE / "regressions" / kind).glob("*"))
    paths += sorted((REPO / "fuzz" / "corpus" / kind).glob("*"))
    return paths


@pytest.mark.parametrize("kind,check", [("inspector", targets.check_inspector),
                                        ("reader", targets.check_reader)])
def test_corpus_and_regressions_hold_the_invariant(kind: str, check) -> None:
    inputs = _inputs(kind)
    assert inputs, f"no corpus for {kind}: run python fuzz/make_seeds.py"
    for path in inputs:
        check(path.read_bytes())


def test_regression_inputs_exist() -> None:
    assert list((HERE / "regressions" / "inspector").glob("*"))


@pytest.mark.parametrize("target", ["fuzz_inspector.py", "fuzz_reader.py"])
def test_short_fuzz_run_finds_nothing(target: str, tmp_path: Path) -> None:
    pytest.importorskip("atheris", reason="atheris not installed (pip install atheris)")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    kind = target.removeprefix("fuzz_").removesuffix(".py")
    for seed in _inputs(kind)[:50]:
        (corpus / seed.name).write_bytes(seed.read_bytes())
    proc = subprocess.run([sys.executable, str(REPO / "fuzz" / target), "-max_total_time=8",
                           "-rss_limit_mb=1024", f"-artifact_prefix={tmp_path}/", str(corpus)],
                          capture_output=True, text=True, timeout=120, check=False)
    crashes = list(tmp_path.glob("crash-*")) + list(tmp_path.glob("oom-*"))
    assert proc.returncode == 0 and not crashes, proc.stderr[-3000:]
