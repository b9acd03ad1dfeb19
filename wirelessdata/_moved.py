"""Modules that moved, still importable from their old place with a :class:`DeprecationWarning`.

``import wirelessdata.store`` gives the module object of ``wirelessdata.shard.store`` itself (not a copy), so
old imports see the same classes and state. Installed on ``sys.meta_path`` by ``wirelessdata/__init__.py``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from types import ModuleType

MOVED = {
    "wirelessdata.schema": "wirelessdata.shard.schema",
    "wirelessdata.store": "wirelessdata.shard.store",
    "wirelessdata.read": "wirelessdata.shard.read",
    "wirelessdata.validate": "wirelessdata.shard.validate",
    "wirelessdata.stats": "wirelessdata.shard.stats",
    "wirelessdata.lock": "wirelessdata.shard.lock",
    "wirelessdata.recipe": "wirelessdata.generate.recipe",
    "wirelessdata.plan": "wirelessdata.generate.plan",
    "wirelessdata.run": "wirelessdata.generate.run",
    "wirelessdata.planting": "wirelessdata.generate.planting",
    "wirelessdata.generators.checks": "wirelessdata.checks",
    "wirelessdata.synthetic": "wirelessdata._testing",
    **{f"wirelessdata.{room}.cli": f"wirelessdata.cli.{room}" for room in ("bench", "catalog", "curate", "importers")},
    **{f"wirelessdata.{room}.cli": f"wirelessdata.cli.{room}" for room in ("interop", "mix", "tasks")},
    "wirelessdata.model_commands": "wirelessdata.cli.models",
}
"""Old module name -> where it lives now (2026-12: the ``shard`` and ``generate`` rooms, the one CLI room)."""


class MovedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the old names of :data:`MOVED` and hands out the new modules, warning once per import."""

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        """A spec for an old name, None for any other."""
        return importlib.util.spec_from_loader(fullname, self) if fullname in MOVED else None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        """The default (a placeholder that :meth:`exec_module` replaces)."""
        return None

    def exec_module(self, module: ModuleType) -> None:
        """Put the new module under the old name."""
        new = MOVED[module.__name__]
        warnings.warn(
            f"{module.__name__} moved to {new}; import it from there (the old name will go)",
            DeprecationWarning,
            stacklevel=2,
        )
        sys.modules[module.__name__] = importlib.import_module(new)


def install() -> None:
    """Add the finder to ``sys.meta_path`` once."""
    if not any(isinstance(f, MovedFinder) for f in sys.meta_path):
        sys.meta_path.append(MovedFinder())
