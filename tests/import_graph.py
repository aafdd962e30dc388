"""The package's import graph from ``ast`` (imports inside functions count), its circles,
and the imports against the stage order. ``python -m tests.import_graph`` prints the figures.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "bench"

#: The pipeline's stages, in order: a module imports only from its own stage or an earlier
#: one (and never in a circle). Prefixes; the longest that matches a module decides.
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("core", ("bench.errors", "bench.paths", "bench.vocab", "bench.env", "bench.quiet",
              "bench.devices", "bench.settings", "bench.spec", "bench.manifest", "bench.options",
              "bench.pool", "bench.tidy", "bench.record_check", "bench.resources",
              "bench.schema")),
    ("data", ("bench.data",)),
    ("models", ("bench.models",)),
    ("engine", ("bench.engine", "bench.compiled_epochs")),
    ("store", ("bench.store",)),
    ("studies", ("bench.studies", "bench.hpo", "bench.hpo.space", "bench.studies.cost")),
    ("hpo", ("bench.hpo.libraries", "bench.hpo.search", "bench.hpo.tabular", "bench.hpo.plan",
             "bench.hpo.compute_cost", "bench.hpo.table_top", "bench.hpo.cost")),
    ("run", ("bench.units", "bench.executor", "bench.ray_executor", "bench.perf",
             "bench.studies.runner", "bench.hpo.runner", "bench.hpo.replays", "bench.kinds",
             "bench.studies.progress")),
    ("report", ("bench.report",)),
    ("site", ("bench.site",)),
    ("app", ("bench.app", "bench.studies.topup")),
    ("cli", ("bench.cli", "bench.__main__")),
]


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted name -> file of every module of the package."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _targets(node: ast.Import | ast.ImportFrom, name: str, mods: dict[str, Path]) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = name.split(".")
        if mods[name].name != "__init__.py":
            package.pop()
        package = package[:len(package) - node.level + 1]
        base = ".".join(package + ([node.module] if node.module else []))
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]


def graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (anywhere in its body)."""
    mods = modules(root)
    edges: dict[str, set[str]] = {}
    for name, path in mods.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _targets(node, name, mods):
                    while target not in mods and "." in target:
                        target = target.rsplit(".", 1)[0]
                    if target in mods and target != name and target.startswith("bench"):
                        found.add(target)
        edges[name] = found
    return edges


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                out.append(sorted(part))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def stage_of(module: str) -> int | None:
    """The index of ``module``'s stage (the longest matching prefix), or None."""
    if module == "bench":
        return 0  # the package's version constants
    best, found = -1, None
    for i, (_, prefixes) in enumerate(STAGES):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), i
    return found


def against_order(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports from a later stage (module, imported)."""
    return sorted((m, t) for m, ts in edges.items() for t in ts
                  if (stage_of(m) or 0) < (stage_of(t) or 0))


def long_functions(root: Path = ROOT, lines: int = 60,
                   params: int = 8) -> list[tuple[str, str, int, int]]:
    """(module, function, lines, parameters) of functions over either limit."""
    out = []
    for name, path in modules(root).items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                args = node.args
                n = len(args.posonlyargs) + len(args.args) + len(args.kwonlyargs)
                n -= bool(args.args and args.args[0].arg in ("self", "cls"))
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > lines or n > params:
                    out.append((name, node.name, size, n))
    return sorted(out)


if __name__ == "__main__":
    edges = graph()
    print(f"modules: {len(edges)}, imports: {sum(map(len, edges.values()))}")
    for part in circles(edges):
        print("circle:", " <-> ".join(m.removeprefix("bench.") for m in part))
    for m in sorted(edges):
        if stage_of(m) is None:
            print("no stage:", m)
    for m, t in against_order(edges):
        print(f"against the order: {m} ({STAGES[stage_of(m)][0]}) -> {t} "
              f"({STAGES[stage_of(t)][0]})")
    for m, f, size, n in long_functions():
        print(f"long: {m}.{f}: {size} lines, {n} parameters")
