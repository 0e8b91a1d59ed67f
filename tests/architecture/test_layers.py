"""The package's shape, held by tests: layers that follow the data path, no import cycle, no
module too long to read, no hidden imports.

The core (the modules directly in ``srinspect/``) is sans-I/O: it imports only itself and the
standard library's pure parts, never a layer around it (sources, audit, flows, sinks, the UI,
the lab, the CLI, the conformance suite). The import graph counts every import, also those
inside functions and under ``TYPE_CHECKING``: a cycle a type checker needs is a cycle a
reader has to untangle too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("srinspect", "conformance")
MAX_LINES = 600
#: Standard-library modules that do I/O or concurrency: none belongs in the core.
IO_MODULES = frozenset({"subprocess", "threading", "asyncio", "multiprocessing",
                        "concurrent", "select", "selectors", "signal", "shutil", "tempfile"})
#: The layers around the core, as subpackages of srinspect (and the suite beside it).
OUTER = ("srinspect.sources", "srinspect.audit", "srinspect.flows", "srinspect.sinks",
         "srinspect.tui", "srinspect.lab", "srinspect.kernel", "srinspect.cli", "conformance")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for pkg in PACKAGES for p in sorted((REPO / pkg).rglob("*.py"))}


def _imports(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import in the file, resolved to our modules where
    they are ours (``from pkg import mod`` is an import of ``pkg.mod``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in MODULES:
                    yield sub, node.lineno
                elif not (REPO / sub.replace(".", "/")).with_suffix(".c").exists():
                    yield base, node.lineno  # a name from the module (a C extension is not ours)


GRAPH = {name: {m for m, _ in _imports(name, path) if m in MODULES and m != name}
         for name, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            nxt = next(edges, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle() -> None:
    assert _cycles(GRAPH) == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_over_600_lines(name: str) -> None:
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{MODULES[name].relative_to(REPO)}: {lines} lines"


def _core() -> list[str]:
    return sorted(n for n, p in MODULES.items()
                  if p.parent == REPO / "srinspect" and p.name != "__main__.py")


def test_the_core_is_sans_io_and_imports_no_outer_layer() -> None:
    bad = []
    for name in _core():
        for module, line in _imports(name, MODULES[name]):
            top = module.split(".")[0]
            if top in IO_MODULES or module.startswith(OUTER):
                bad.append(f"{MODULES[name].relative_to(REPO)}:{line} imports {module}")
    assert bad == []


#: socket's pure address converters are fine in the core; nothing else of it is.
PURE_SOCKET = frozenset({"inet_pton", "inet_ntop", "inet_aton", "inet_ntoa", "AF_INET",
                         "AF_INET6"})


def test_the_core_uses_socket_only_to_convert_addresses() -> None:
    bad = []
    for name in _core():
        tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "socket":
                bad += [f"{name}:{node.lineno} {a.name}" for a in node.names
                        if a.name not in PURE_SOCKET]
            elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                  and node.value.id == "socket" and node.attr not in PURE_SOCKET):
                bad.append(f"{name}:{node.lineno} socket.{node.attr}")
    assert bad == []


def test_the_core_is_what_the_layers_build_on() -> None:
    """The check above must see the core: the codec, the rules and the inspector."""
    assert {"srinspect.srh", "srinspect.rules", "srinspect.validate",
            "srinspect.inspector"} <= set(_core())


def test_no_hidden_imports() -> None:
    """``__import__`` and ``importlib.import_module`` hide edges from the graph above."""
    hidden = [f"{p.relative_to(REPO)}:{n.lineno}" for p in MODULES.values()
              for n in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
              if isinstance(n, ast.Call) and (
                  (isinstance(n.func, ast.Name) and n.func.id == "__import__")
                  or (isinstance(n.func, ast.Attribute) and n.func.attr == "import_module"))]
    assert hidden == []
