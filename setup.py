"""Build hook for the one compiled module; all metadata lives in pyproject.toml.

``srinspect._skim`` (C, no dependencies beyond Python's headers) is the audit's pre-filter.
It is optional: if no compiler is available the install still succeeds and srinspect runs
the same audit in pure Python, only slower (``srinspect --version`` says which).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "srinspect._skim",
            ["srinspect/_skim.c"],
            optional=True,
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        )
    ]
)
