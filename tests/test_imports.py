"""Import graphs: ``sayso.app`` is the top of the package and nothing goes round
in a circle; dashboard pages don't import each other; tests import only
``tests.support``.

Read from the source with ``ast`` (imports under ``TYPE_CHECKING`` count: mypy
follows them, and a circle of them is still a tangle to read), so the test
needs nothing imported and sees every module.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import sayso

PACKAGE = Path(sayso.__file__).parent
TESTS = Path(__file__).parent
# A dashboard module that declares a route is a page.
ROUTE = re.compile(r"^@(get|post|get_or_head|delete|put|patch)\(", re.M)


def _modules(package: Path = PACKAGE) -> dict[str, Path]:
    modules = {}
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
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


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    modules = _modules(package)
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


def test_dashboard_pages_import_no_other_page() -> None:
    pages = {
        name
        for name, path in _modules().items()
        if name.startswith("sayso.dashboard.") and ROUTE.search(path.read_text())
    }
    # app.py gathers the pages into the dashboard's router: that is its job.
    pages.discard("sayso.dashboard.app")
    assert {"sayso.dashboard.inbox", "sayso.dashboard.people"} <= pages
    graph = import_graph()
    assert {page: graph[page] & pages for page in pages if graph[page] & pages} == {}


def test_tests_import_only_the_support_package_never_another_test_module() -> None:
    # Shared helpers live in tests/support, shared fixtures in a conftest.py;
    # a test module importing another would run its tests' fixtures twice.
    graph = import_graph(TESTS)
    assert "tests.dashboard.test_inbox" in graph
    wrong = {
        name: sorted(m for m in imported if not m.startswith("tests.support"))
        for name, imported in graph.items()
        if any(not m.startswith("tests.support") for m in imported)
    }
    assert wrong == {}
