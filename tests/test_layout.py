"""The layout stays acyclic: no module imports, directly or through others, a module that imports
it back — counting imports inside functions too, which hide cycles from import-time errors (imports
made only for the type checker, under `if TYPE_CHECKING:`, never run and are not counted)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# Cycles still to be broken: none. A cycle listed here is tolerated only until it is broken.
KNOWN_CYCLES: list[set[str]] = []


def _modules() -> dict[str, Path]:
    out = {}
    for p in SRC.rglob("*.py"):
        name = ".".join(p.relative_to(SRC).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = p
    return out


def _resolve(name: str, mods: dict[str, Path]) -> str | None:
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node except the bodies of `if TYPE_CHECKING:` blocks: imports made only for the type
    checker never run, so they cannot make an import cycle."""
    out: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        out.append(node)
        if (
            isinstance(node, ast.If)
            and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING"
        ):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return out


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(
                        parts[: len(parts) - node.level + 1] + ([node.module] if node.module else [])
                    )
                targets = [f"{base}.{a.name}" for a in node.names] or [base]
            for t in targets:
                hit = _resolve(t, mods)
                if hit and hit != mod and hit.startswith("banscan"):
                    graph[mod].add(hit)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.add(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    found.append(comp)
    return found


def test_the_graph_sees_imports_inside_functions() -> None:
    graph = import_graph()
    # output.formats imports its writers inside a function only
    assert "banscan.output.cyclonedx" in graph["banscan.output.formats"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_no_import_cycles_beyond_the_known_ones() -> None:
    found = cycles(import_graph())
    unknown = [c for c in found if c not in KNOWN_CYCLES]
    assert not unknown, f"import cycles: {[sorted(c) for c in unknown]}"
    gone = [c for c in KNOWN_CYCLES if c not in found]
    assert not gone, f"broken cycles still listed as known: {[sorted(c) for c in gone]}"


def _sqlalchemy_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sqlalchemy":
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.split(".")[0] == "sqlalchemy")
    return names


def test_the_server_builds_no_queries() -> None:
    """Every query is in `banscan.store`: the server's routes and pages may name a session and
    catch the database's errors, nothing more."""
    allowed = {"Session"}
    found = {
        str(p.relative_to(SRC)): sorted(
            n for n in _sqlalchemy_names(p) if n not in allowed and not n.endswith("Error")
        )
        for p in (SRC / "banscan" / "server").rglob("*.py")
    }
    assert {p: n for p, n in found.items() if n} == {}
    # the check sees what it looks for
    assert _sqlalchemy_names(SRC / "banscan" / "store" / "hosts.py") >= {"select", "func"}
