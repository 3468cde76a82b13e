"""The engine stays readable: no function in services/planogram is longer than 50 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import services.planogram

MAX_LINES = 50
ENGINE = Path(services.planogram.__file__).parent


def long_functions(source: str, max_lines: int = MAX_LINES) -> list[tuple[str, int]]:
    """(name, lines) of every function or method, nested ones included, longer than max_lines."""
    out: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            lines = (node.end_lineno or node.lineno) - first + 1
            if lines > max_lines:
                out.append((node.name, lines))
    return out


def test_no_engine_function_is_longer_than_50_lines() -> None:
    files = sorted(ENGINE.glob("*.py"))
    assert len(files) > 10  # the engine package was found
    offenders = [f"{f.name}:{name} ({n} lines)" for f in files for name, n in long_functions(f.read_text())]
    assert not offenders, "split these into named steps: " + ", ".join(offenders)


def test_the_check_counts_decorators_bodies_and_nested_functions() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(49))
    short = f"def f():\n{body}\n"  # 50 lines
    assert long_functions(short) == []
    assert long_functions(f"@staticmethod\n{short}") == [("f", 51)]
    nested = f"class C:\n    def m(self):\n        def g():\n{body.replace('    ', '            ')}\n"
    assert ("g", 50) not in long_functions(nested) and ("m", 51) in long_functions(nested)
