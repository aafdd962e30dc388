"""The package's import graph: no circles, the stage order holds, every module has a stage."""

from __future__ import annotations

from pathlib import Path

from tests.import_graph import STAGES, against_order, circles, graph, modules, stage_of


def test_no_import_circle_counting_imports_inside_functions() -> None:
    assert circles(graph()) == []


def test_every_import_follows_the_stage_order() -> None:
    assert against_order(graph()) == []


def test_every_module_has_a_stage() -> None:
    assert [m for m in modules() if stage_of(m) is None] == []


def test_the_checker_sees_a_circle_and_an_import_against_the_order(tmp_path: Path) -> None:
    package = tmp_path / "bench"
    (package / "report").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "store.py").write_text("def f():\n    from bench.report import x\n")
    (package / "report" / "__init__.py").write_text("from bench.store import f\nx = 1\n")
    edges = graph(package)
    assert circles(edges) == [["bench.report", "bench.store"]]
    assert against_order(edges) == [("bench.store", "bench.report")]
    assert [name for name, _ in STAGES][-1] == "cli"


def test_no_function_over_60_lines_or_8_parameters_outside_model_builders() -> None:
    from tests.import_graph import long_functions

    found = [f for f in long_functions()
             if not (f[0] == "bench.models" and f[1].startswith("build_"))]
    assert found == []
