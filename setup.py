"""Build hook for the one compiled module; all metadata lives in pyproject.toml.

``srinspect._skim`` (C, no dependencies beyond Python's headers) is the audit's pre-filter.
It is optional: if no compiler is available the install still succeeds and srinspect runs
the same audit in pure Python, only slower (``srinspect --version`` says which).

Before compiling, the numbers the C code shares with the Python tables are regenerated into
``srinspect/_skim_consts.h`` (``srinspect/_gen/skim_consts.py``); the committed copy is the
same file, so a build that skips this step compiles the same module.
"""

import importlib
import sys
import types
from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).resolve().parent


def generate_skim_constants(header: Path = HERE / "srinspect" / "_skim_consts.h") -> None:
    """Rewrite ``header`` (srinspect/_skim_consts.h) if the Python tables changed.

    A build environment has none of srinspect's dependencies, so the package __init__ files
    (which import them) must not run: ``srinspect`` and ``srinspect.sources`` are entered
    as bare packages, from which only the dependency-free modules holding the tables load.
    Any srinspect modules the interpreter had are put back afterwards.
    """
    saved = {name: sys.modules.pop(name) for name in _srinspect_modules()}
    for name in ("srinspect", "srinspect.sources"):
        package = types.ModuleType(name)
        package.__path__ = [str(HERE.joinpath(*name.split(".")))]
        sys.modules[name] = package
    try:
        importlib.import_module("srinspect._gen.skim_consts").write(header)
    finally:
        for name in _srinspect_modules():
            del sys.modules[name]
        sys.modules.update(saved)


def _srinspect_modules() -> list[str]:
    return [name for name in sys.modules if name.partition(".")[0] == "srinspect"]


if __name__ == "__main__":  # as setuptools runs it; tests load generate_skim_constants only
    # Before any build step: build_py copies the header into wheels, build_ext compiles it.
    generate_skim_constants()
    setup(
        ext_modules=[
            Extension(
                "srinspect._skim",
                ["srinspect/_skim.c"],
                depends=["srinspect/_skim_consts.h"],
                optional=True,
                extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            )
        ],
    )
