"""The package's import graph: ``sayso.app`` is the top, and nothing goes round in a circle.

Read from the source with ``ast`` (imports under ``TYPE_CHECKING`` count: mypy
follows them, and a circle of them is still a tangle to read), so the test
needs nothing imported and sees every module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import sayso

PACKAGE = Path(sayso.__file__).parent


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that module ``name`` (at ``path``) imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            # ``from sayso import cleanup`` imports the module sayso.cleanup.
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found & known - {name}


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imported(name, path, set(modules)) for name, path in modules.items()}


def _a_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports, as the modules along it, or None if there is none."""
    done: set[str] = set()
    for start in sorted(graph):
        path: list[str] = []
        on_path: set[str] = set()
        stack = [(start, iter(sorted(graph[start])))]
        if start in done:
            continue
        path.append(start)
        on_path.add(start)
        while stack:
            node, successors = stack[-1]
            for successor in successors:
                if successor in on_path:
                    return [*path[path.index(successor) :], successor]
                if successor not in done:
                    stack.append((successor, iter(sorted(graph[successor]))))
                    path.append(successor)
                    on_path.add(successor)
                    break
            else:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
    return None


def test_nothing_in_the_package_imports_the_app() -> None:
    # The CLI names it as a string for uvicorn ("sayso.app:create_app"), not an import.
    graph = import_graph()
    assert "sayso.app" in graph
    assert "sayso.runtime" in graph["sayso.app"]
    assert [name for name, imported in graph.items() if "sayso.app" in imported] == []


def test_the_package_has_no_import_cycle() -> None:
    assert _a_cycle(import_graph()) is None


def test_a_cycle_is_found_when_there_is_one() -> None:
    # The check above proves something only if it can see a circle.
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _a_cycle(graph) == ["a", "b", "c", "a"]
    assert _a_cycle({"a": {"b"}, "b": set()}) is None
