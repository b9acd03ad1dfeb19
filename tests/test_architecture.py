"""The house's contracts (pyproject.toml [tool.importlinter], docs/architecture.md): they hold on the package, and
they fail on a planted cycle, a planted upward import and a module grown past the size rule."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "wirelessdata"
LINT = Path(sys.executable).with_name("lint-imports")
MAX_LINES = 500
REASON = "Long on purpose:"
"""A module over MAX_LINES lines says why in its docstring, starting with this phrase."""


def lint(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on the copy of the package under ``root`` (its pyproject.toml holds the contracts)."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def copy(tmp_path):
    """A copy of the package and its pyproject.toml, to plant defects in."""
    shutil.copytree(PACKAGE, tmp_path / "wirelessdata", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_contracts_hold(copy):
    res = lint(copy)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "2 kept, 0 broken" in res.stdout


def test_an_upward_import_inside_a_function_breaks_the_layers(copy):
    store = copy / "wirelessdata" / "shard" / "url.py"
    store.write_text(store.read_text() + "\n\ndef _planted() -> None:\n    from wirelessdata.mix import spec  # noqa\n")
    res = lint(copy)
    assert res.returncode == 1 and "rooms in layers" in res.stdout and "BROKEN" in res.stdout
    assert "wirelessdata.shard.url -> wirelessdata.mix.spec" in res.stdout


def test_a_circle_between_two_modules_of_a_room_breaks_the_sibling_contract(copy):
    url = copy / "wirelessdata" / "shard" / "url.py"
    url.write_text(url.read_text() + "\n\ndef _planted() -> None:\n    from wirelessdata.shard import info  # noqa\n")
    res = lint(copy)
    assert res.returncode == 1 and "no import cycles between siblings" in res.stdout and "BROKEN" in res.stdout


def long_modules_without_a_reason(package: Path) -> list[str]:
    """Modules over MAX_LINES lines whose docstring does not say why (REASON)."""
    out = []
    for path in sorted(package.rglob("*.py")):
        text = path.read_text()
        if text.count("\n") > MAX_LINES and REASON not in text.split('"""')[1 if text.startswith('"""') else 0]:
            out.append(str(path.relative_to(package.parent)))
    return out


def test_no_module_is_long_without_a_reason(copy):
    assert long_modules_without_a_reason(PACKAGE) == []
    grown = copy / "wirelessdata" / "shard" / "url.py"
    grown.write_text(grown.read_text() + "\n" * MAX_LINES)
    assert long_modules_without_a_reason(copy / "wirelessdata") == ["wirelessdata/shard/url.py"]
