"""The package's import structure: no cycles between modules, no Dagster on the Spark side.

The contracts are in ``.importlinter`` (run ``lint-imports`` to see them);
cycles are found here with grimp, the graph library import-linter is built on,
because its own ``acyclic_siblings`` contract judges whole subpackages, where a
dependency in each direction between two packages is not a cycle of modules.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]


def module_cycles(package: str) -> list[list[str]]:
    """One import chain per module pair that import each other, directly or not."""
    graph = grimp.build_graph(package)
    found: dict[frozenset[str], list[str]] = {}
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            pair = frozenset((module, imported))
            if pair in found:
                continue
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back:
                found[pair] = [module, *back]
    return list(found.values())


def test_no_module_imports_itself_through_others():
    cycles = module_cycles("authpulse_dagster")
    assert cycles == [], "\n".join(" -> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_a_cycle(tmp_path, monkeypatch):
    pkg = tmp_path / "cyclic_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from cyclic_pkg import b\n")
    (pkg / "b.py").write_text("def f():\n    from cyclic_pkg import a\n")
    (pkg / "c.py").write_text("from cyclic_pkg import b\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert module_cycles("cyclic_pkg") == [["cyclic_pkg.a", "cyclic_pkg.b", "cyclic_pkg.a"]]


def test_import_contracts_hold():
    out = subprocess.run([str(Path(sys.executable).with_name("lint-imports"))], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "KEPT" in out.stdout and "BROKEN" not in out.stdout
