"""The package's module-level import graph has no cycle (issue 17), read from the source with
``ast`` (nothing is imported). Imports inside functions and under ``if TYPE_CHECKING:`` are
left out: they run later or never, so they cannot deadlock a partially initialised module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import blurvid

PACKAGE = Path(blurvid.__file__).resolve().parent


def module_name(path: Path) -> str:
    parts = ["blurvid", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def module_level_imports(tree: ast.AST, lazy: bool = False):
    """Import nodes that run when the module is imported (not in functions/TYPE_CHECKING);
    with ``lazy``, also those inside functions (they run when the function is called)."""
    stack = list(ast.iter_child_nodes(tree))
    while stack:
        node = stack.pop()
        if not lazy and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def import_graph(lazy: bool = False) -> dict[str, set[str]]:
    """``{module: {blurvid modules it imports at module level}}`` (``lazy``: anywhere, functions
    included). ``from .x import y`` is an
    arrow to ``x`` (and to ``x.y`` when that is a module); a package's own ``__init__`` is not
    counted as a target of its submodules' relative imports (Python has it loaded already)."""
    mods = modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in module_level_imports(ast.parse(path.read_text(encoding="utf-8")), lazy):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    stem = ".".join(base + ([node.module] if node.module else []))
                else:
                    stem = node.module or ""
                targets = [f"{stem}.{a.name}" for a in node.names if f"{stem}.{a.name}" in mods]
                if node.module or not targets:
                    targets.append(stem)
            for target in targets:
                if target in mods and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_module_level_import_graph_has_no_cycle():
    graph = import_graph()
    assert len(graph) > 20 and sum(map(len, graph.values())) > 40  # the parser found the arrows
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])


def test_the_model_knows_nothing_of_files_and_the_hub():
    graph = import_graph()
    assert "blurvid.model" in graph["blurvid.hub"]
    assert not graph["blurvid.model"] & {"blurvid.hub", "blurvid.io", "blurvid.api"}
    # colour is a leaf: data, losses and the model share it without importing one another
    assert graph["blurvid.colour"] == set()


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def test_the_model_imports_nothing_above_it_not_even_lazily():
    """Issue 32: G's save/load hooks call blurvid.weights_io (files) and blurvid.hub_fetch (the
    Hub) below it; no import of the model's, even one inside a method, leads back up to the
    loaders, the API or the model itself."""
    graph = import_graph(lazy=True)
    below = reachable(graph, "blurvid.model")
    assert {"blurvid.weights_io", "blurvid.hub_fetch"} <= below
    assert not below & {"blurvid.model", "blurvid.hub", "blurvid.api", "blurvid.io"}
    for module in ("blurvid.weights_io", "blurvid.hub_fetch"):  # they know no architecture
        assert "blurvid.model" not in reachable(graph, module)
    assert "blurvid.model" in graph["blurvid.hub"]


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_relative_imports_resolve():
    graph = import_graph()
    assert "blurvid.model" in graph["blurvid.train.config"]  # from ..model import ...
    assert "blurvid.colour" in graph["blurvid.train.losses"]  # from ..colour import ...
