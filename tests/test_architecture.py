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


def example_generator() -> str:
    """The Python code of docs/architecture.md's example generator."""
    doc = (REPO / "docs" / "architecture.md").read_text()
    section = doc.split("## Example: a generator in about 30 lines", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_documented_example_generator_is_a_working_plug_in(tmp_path):
    """The example of docs/architecture.md, installed as a plug-in (package + entry point), generates valid,
    catalogued shards through the one registry and writer, with the same bytes on a rerun elsewhere."""
    site = tmp_path / "site"
    (site / "my_sources").mkdir(parents=True)
    (site / "my_sources" / "__init__.py").write_text("")
    (site / "my_sources" / "rayleigh.py").write_text(example_generator())
    dist = site / "my_sources-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-sources\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[wirelessdata.generators]\nrayleigh = my_sources.rayleigh:SOURCE\n")
    recipe = tmp_path / "iid.toml"
    recipe.write_text('generator = "rayleigh"\nsamples = 12\nblock_size = 4\n\n[[configs]]\nname = "iid"\n')
    env = {**os.environ, "PYTHONPATH": str(site)}

    def run(*args: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "wirelessdata.cli", *args]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)

    for out in ("a", "b"):
        res = run("generate", "--recipe", str(recipe), "--out", str(tmp_path / out))
        assert res.returncode == 0, res.stdout + res.stderr
    assert run("validate", str(tmp_path / "a")).returncode == 0
    listed = run("catalog", "ls", str(tmp_path / "a"), "--where", "generator=rayleigh", "--json")
    assert listed.returncode == 0 and '"iid-sub6.zarr"' in listed.stdout
    import zarr

    sums = [zarr.open_group(str(tmp_path / out / "iid-sub6.zarr"), mode="r").attrs["checksum"] for out in "ab"]
    assert sums[0] == sums[1]
    bad = tmp_path / "typo.toml"
    bad.write_text('generator = "rayleigh"\n\n[[configs]]\nnum_subcarrier = 8\n')
    res = run("generate", "--recipe", str(bad), "--out", str(tmp_path / "c"))
    assert res.returncode == 2 and "unknown key(s) ['num_subcarrier']" in res.stderr and "Traceback" not in res.stderr
    (dist / "entry_points.txt").write_text('[wirelessdata.generators]\nrayleigh = "my_sources.rayleigh:SOURCE"\n')
    res = run("generate", "--recipe", str(recipe), "--out", str(tmp_path / "d"))  # a malformed entry point
    assert res.returncode == 2 and "entry point" in res.stderr and "does not load" in res.stderr
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("old", sorted(__import__("wirelessdata._moved", fromlist=["MOVED"]).MOVED))
def test_a_moved_module_still_imports_from_its_old_name_with_a_warning(old):
    """Users' imports of the old module names keep working (the same module object) and say where it went."""
    import importlib

    from wirelessdata._moved import MOVED

    new = importlib.import_module(MOVED[old])
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {MOVED[old]}"):
        sys.modules.pop(old, None)
        assert importlib.import_module(old) is new
