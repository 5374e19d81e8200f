"""The tree shows where a feature lives: no module name repeats across the layer packages, and
no tab imports another tab (what tabs share is in demo/tabs/shared.py; demo/ui.py wires them)."""
from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("minibert", "analysis", "demo", "demo/tabs")


def test_no_module_name_repeats_across_the_layer_packages():
    names = Counter(p.stem for package in PACKAGES for p in (ROOT / package).glob("*.py")
                    if p.stem not in ("__init__", "__main__"))
    assert [name for name, n in names.items() if n > 1] == []


def _imported_modules(path: Path) -> set[str]:
    """The modules a file imports, as dotted names resolved against its package."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            out.add(module)
            out |= {f"{module}.{alias.name}" for alias in node.names}
    return out


def test_no_tab_imports_another_tab():
    tabs = {p.stem for p in (ROOT / "demo/tabs").glob("*_tab.py")}
    assert {"compare_tab", "errors_tab", "derived_tab"} <= tabs  # the check below sees the real files
    offenders = {}
    for path in (ROOT / "demo/tabs").glob("*.py"):
        others = {f"demo.tabs.{t}" for t in tabs - {path.stem}}
        hit = _imported_modules(path) & others
        if hit:
            offenders[path.name] = sorted(hit)
    assert offenders == {}
