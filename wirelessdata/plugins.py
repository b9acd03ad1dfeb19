"""The one registry of plug-ins: generators, importers and tasks, found as Python entry points.

A package adds a plug-in by declaring an entry point, as xarray finds its backends; wirelessdata declares its
own built-ins the same way (``[project.entry-points]`` of its pyproject.toml), so there is one list::

    [project.entry-points."wirelessdata.generators"]
    my-sim = "my_package.my_sim:SOURCE"        # a wirelessdata.source.contract.Generator

    [project.entry-points."wirelessdata.importers"]
    my-format = "my_package.my_format:SOURCE"  # a wirelessdata.source.contract.Importer

    [project.entry-points."wirelessdata.tasks"]
    my-task = "my_package.tasks:MyTask"        # a wirelessdata.tasks.base.Task subclass

Names are what users write: ``generator = "my-sim"`` in a recipe, ``wirelessdata import my-format PATH``,
``wirelessdata task show my-task``. When wirelessdata itself runs from a source tree without being installed
(no package metadata), its built-ins are read from the pyproject.toml beside the package.
"""

from __future__ import annotations

import functools
import importlib.metadata
import tomllib
from pathlib import Path
from typing import Any

from wirelessdata.errors import ConfigError

GROUPS = {
    "generator": "wirelessdata.generators",
    "importer": "wirelessdata.importers",
    "task": "wirelessdata.tasks",
}
"""Plug-in kind -> entry-point group."""


@functools.cache
def entry_points(kind: str) -> dict[str, importlib.metadata.EntryPoint]:
    """The plug-ins of ``kind`` (``generator``, ``importer``, ``task``) by name.

    Cached: call :func:`refresh` after installing a plug-in into a running process.
    """
    group = GROUPS[kind]
    found: dict[str, importlib.metadata.EntryPoint] = {}
    if not _installed():
        found.update((ep.name, ep) for ep in _source_tree_entry_points(group))
    for ep in importlib.metadata.entry_points(group=group):
        found.setdefault(ep.name, ep)  # the first declaration of a name wins (wirelessdata's own come first)
    return found


def refresh() -> None:
    """Forget the cached entry points (after a plug-in was installed into this process)."""
    entry_points.cache_clear()


def names(kind: str) -> list[str]:
    """Names of the plug-ins of ``kind``, sorted."""
    return sorted(entry_points(kind))


def load(kind: str, name: str) -> Any:
    """The plug-in ``name`` of ``kind`` (a module or an object); one-line :class:`ConfigError` when it is unknown
    or its package (or one of its optional dependencies) is not installed."""
    eps = entry_points(kind)
    if name not in eps:
        raise ConfigError(f"{kind}: unknown {kind} {name!r}; allowed: {sorted(eps)}")
    try:
        return eps[name].load()
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"{kind} {name!r} is not available ({exc}); install its package with its extras "
            "(for wirelessdata's own: pip install 'wirelessdata[all]')"
        ) from exc
    except Exception as exc:  # a plug-in's own code or a malformed entry point: name it, whatever it raised
        raise ConfigError(
            f"{kind} {name!r}: its entry point {eps[name].value!r} does not load ({type(exc).__name__}: {exc}); "
            "fix or uninstall the package that declares it"
        ) from exc


def _installed() -> bool:
    try:
        importlib.metadata.distribution("wirelessdata")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def _source_tree_entry_points(group: str) -> list[importlib.metadata.EntryPoint]:
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    if not pyproject.is_file():
        return []
    table = tomllib.loads(pyproject.read_text()).get("project", {}).get("entry-points", {}).get(group, {})
    return [importlib.metadata.EntryPoint(name, value, group) for name, value in table.items()]
