"""Capture inputs that are local paths or fsspec URLs (``s3://``, ``gs://``, ``file://`` ...).

Distributed audits run where the captures are not: Dask workers read them from object stores
or shared filesystems. fsspec gives one file API over all of those, so the work-unit planner
and the unit reader only ask this module for "a binary file" and "its size" (and the whole-file
auditor, ``sequential.StreamAuditor``, for the file to read). Local paths keep the builtin
``open``/``os.path.getsize``: no optional dependency for the common case and no wrapper in
the hot read loop. fsspec is imported only when a URL shows up.
"""

from __future__ import annotations

import os
import re
from typing import IO, Any

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz", ".cap.gz")
FSSPEC_HINT = "reading URLs needs fsspec: pip install 'srinspect[dask]'"


def is_url(path: str) -> bool:
    """True for ``scheme://...`` inputs (read through fsspec), False for plain paths and ``-``."""
    return bool(_URL.match(path))


def _fsspec() -> Any:  # noqa: ANN401 - the fsspec module
    try:
        import fsspec
    except ImportError:
        raise OSError(FSSPEC_HINT) from None
    return fsspec


def _url_fs(url: str) -> tuple[Any, str]:
    """(filesystem, path inside it); every failure is an OSError the callers already handle.

    fsspec raises ValueError for an unknown protocol and ImportError when the protocol's
    package (s3fs, gcsfs ...) is missing; their messages say what to do, so they are kept.
    """
    fsspec = _fsspec()
    try:
        return fsspec.core.url_to_fs(url)  # type: ignore[no-any-return]
    except (ValueError, ImportError) as exc:
        raise OSError(f"{url}: {exc}") from None


def open_input(path: str) -> IO[bytes]:
    """A binary file for ``path``; the caller closes it. Raises OSError like ``open``."""
    if not is_url(path):
        return open(path, "rb")  # noqa: SIM115 - the caller owns it
    fs, inner = _url_fs(path)
    try:
        return fs.open(inner, "rb")  # type: ignore[no-any-return]
    except OSError:
        raise
    except Exception as exc:  # noqa: BLE001 - backends raise their own types
        raise OSError(f"{path}: {exc}") from None


def input_size(path: str) -> int:
    """Size in bytes of ``path`` (from the fsspec filesystem for URLs). Raises OSError."""
    if not is_url(path):
        return os.path.getsize(path)
    fs, inner = _url_fs(path)
    try:
        size = fs.size(inner)
    except OSError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise OSError(f"{path}: {exc}") from None
    if size is None:
        raise OSError(f"{path}: the filesystem does not report a size")
    return int(size)


def expand_url_inputs(paths: list[str]) -> list[str]:
    """URL directories become their capture files (sorted, not recursive), as the CLI does
    for local directories; other inputs are kept as given."""
    out: list[str] = []
    for path in paths:
        if not is_url(path):
            out.append(path)
            continue
        fs, inner = _url_fs(path)
        try:
            is_dir = fs.isdir(inner)
        except Exception:  # noqa: BLE001 - not listable: let the reader report it
            is_dir = False
        if not is_dir:
            out.append(path)
            continue
        names = sorted(fs.ls(inner, detail=False))
        out.extend(fs.unstrip_protocol(n) for n in names
                   if n.endswith(CAPTURE_SUFFIXES) and fs.isfile(n))
    return out
