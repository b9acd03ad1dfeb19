"""The recipes, mixture specs and bench tracks that ship with wirelessdata, found by name.

A clone holds them in ``generators/``, ``catalog/`` and ``catalog/bench/``; an installed wheel holds the same files
in ``wirelessdata/recipes/``, ``wirelessdata/mixtures/`` and ``wirelessdata/mixtures/bench/`` (pyproject.toml's
force-include). So ``wirelessdata generate --recipe wifo`` works after ``pip install`` as in a clone, and
``wirelessdata examples`` lists what ships.
"""

from __future__ import annotations

from pathlib import Path

KINDS = {
    "recipe": ("recipes", "generators"),
    "mixture": ("mixtures", "catalog"),
    "track": ("mixtures/bench", "catalog/bench"),
}
"""Kind -> (folder inside the installed package, folder of a source checkout)."""


def shipped_dir(kind: str) -> Path | None:
    """The folder holding the shipped files of ``kind`` (``recipe``, ``mixture``, ``track``), None when absent."""
    package = Path(__file__).resolve().parent
    inside, checkout = KINDS[kind]
    for candidate in (package / inside, package.parent / checkout):
        if candidate.is_dir():
            return candidate
    return None


def shipped(kind: str) -> dict[str, Path]:
    """The shipped files of ``kind`` by name (file name without ``.toml``), sorted."""
    folder = shipped_dir(kind)
    return {p.stem: p for p in sorted(folder.glob("*.toml"))} if folder else {}


def find(kind: str, name: str | Path) -> Path | None:
    """The shipped file called ``name`` (``wifo`` or ``wifo.toml``), None when ``name`` is a path or unknown."""
    text = str(name)
    if "/" in text or "\\" in text:
        return None
    return shipped(kind).get(text.removesuffix(".toml"))


def summary(path: Path) -> str:
    """The first comment line of a shipped TOML file (what it is), without the ``#``."""
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
        if line.strip():
            break
    return ""
