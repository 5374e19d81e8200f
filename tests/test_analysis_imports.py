"""The seams of `analysis`: `import analysis` needs none of the heavy libraries, its modules import
one another one way only, and `demo` imports the package front, never a module below it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# test support that builds tables (as the tests do), not a part of the app
DEMO_MAY_REACH_IN = {"demo/app_testing.py"}


def _imports(path: Path) -> list[tuple[ast.ImportFrom | ast.Import, str]]:
    """(node, absolute module name) of every import in a file, at any depth."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(node, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            if node.module is None:  # from . import x: x is a module
                out += [(node, f"{module}.{alias.name}") for alias in node.names]
            else:
                out.append((node, module))
    return out


def test_import_analysis_loads_no_heavy_library():
    code = ("import sys, analysis; heavy = {'torch', 'cleanlab', 'umap', 'gradio', 'matplotlib', 'captum'}; "
            "print(sorted(heavy & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_analysis_modules_import_one_way():
    modules = {p.stem: p for p in (ROOT / "analysis").glob("*.py") if p.stem not in ("__init__", "__main__")}
    graph = {name: {m.split(".")[1] for _, m in _imports(path) if m.startswith("analysis.") and m.count(".") == 1}
             for name, path in modules.items()}
    done: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert name not in trail, f"import cycle: {' -> '.join((*trail, name))}"
        if name in done:
            return
        for dep in graph.get(name, ()):
            visit(dep, (*trail, name))
        done.add(name)

    for name in graph:
        visit(name, ())


def test_demo_imports_the_analysis_front_only():
    reaching = []
    for path in sorted([*(ROOT / "demo").rglob("*.py"), ROOT / "app.py"]):
        rel = path.relative_to(ROOT).as_posix()
        if rel in DEMO_MAY_REACH_IN:
            continue
        reaching += [f"{rel}:{node.lineno} {m}" for node, m in _imports(path) if m.startswith("analysis.")]
    assert reaching == []
