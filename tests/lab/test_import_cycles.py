"""No import cycles in lab/ (DESIGN: "No import cycles in `lab/`; a test proves it").

Every ``import`` and ``from … import`` counts, at module level, inside functions
and under ``if TYPE_CHECKING:`` alike: a module that needs another only to type
a name still ties the two together. ``importlib.import_module(name)`` (a table
naming modules loaded on use, as lab/wire/layers does) is not an import here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import lab

ROOT = Path(lab.__file__).parent

#: Circles allowed: none. (A circle that must stay a while would be listed here, so
#: that a new one still fails and a listed one that is gone fails too.)
KNOWN: set[frozenset[str]] = set()


def modules(root: Path = ROOT) -> dict[str, Path]:
    """lab's modules by dotted name (a package by its own name)."""
    found = {}
    for path in root.rglob("*.py"):
        parts = ("lab", *path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that module ``name`` imports, anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            for alias in node.names:
                # ``from lab import hold`` imports the module lab.hold; ``from
                # lab.wire.link import Layer`` the module lab.wire.link.
                target = f"{base}.{alias.name}"
                out.add(target if target in known else base)
    return {module for module in out if module in known and module != name}


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    found = modules(root)
    return {name: imports(name, path, set(found)) for name, path in found.items()}


def circles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected sets of more than one module (Tarjan, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(edges[target]))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    circle = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        circle.add(member)
                        if member == node:
                            break
                    if len(circle) > 1:
                        found.append(frozenset(circle))
    return found


def test_the_finder_finds_a_circle_through_a_function_level_import(tmp_path: Path) -> None:
    pkg = tmp_path / "lab"
    (pkg / "wire").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "wire" / "__init__.py").write_text("from lab.wire.relay import TcpWire\n")
    (pkg / "wire" / "relay.py").write_text("from .link import Link\nclass TcpWire: ...\n")
    (pkg / "wire" / "link.py").write_text(
        "def make():\n    from lab.wire import relay\n    return relay\nclass Link: ...\n")
    (pkg / "engine.py").write_text("from lab import wire\n")
    assert circles(graph(pkg)) == [frozenset({"lab.wire.relay", "lab.wire.link"})]


def test_no_import_cycles_in_lab() -> None:
    found = set(circles(graph()))
    new = [sorted(circle) for circle in found - KNOWN]
    assert not new, f"import cycles in lab/: {new}"
    gone = [sorted(circle) for circle in KNOWN - found]
    assert not gone, f"these cycles are gone: take them off KNOWN: {gone}"


def test_the_wire_imports_no_engine() -> None:
    edges = graph()
    wire = {name for name in edges if name == "lab.wire" or name.startswith("lab.wire.")}
    assert wire, "lab/wire/ is a package"
    assert all("lab.engine" not in edges[name] for name in wire)
