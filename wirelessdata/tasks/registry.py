"""The tasks by name (from the plug-in registry, :mod:`wirelessdata.plugins`) and ``get``."""

from __future__ import annotations

from typing import Any, overload

from wirelessdata import plugins
from wirelessdata.errors import ConfigError
from wirelessdata.tasks.base import Task
from wirelessdata.tasks.source import Source
from wirelessdata.tasks.view import TaskView


def _task(name: str) -> type[Task]:
    cls = plugins.load("task", name)
    if not (isinstance(cls, type) and issubclass(cls, Task)) or cls.name != name:
        raise ConfigError(f"task plug-in {name!r} is {cls!r}, not a Task subclass named {name!r}; fix its entry point")
    return cls


TASKS: dict[str, type[Task]] = dict(
    sorted(((name, _task(name)) for name in plugins.names("task")), key=lambda item: (item[1].rank, item[0]))
)
"""Every task by name, in the order of their ``rank``: wirelessdata's own and those of installed plug-ins
(entry-point group ``wirelessdata.tasks``, see :mod:`wirelessdata.plugins`)."""


def task_class(name: str) -> type[Task]:
    """The class of task ``name``; a one-line error listing the tasks otherwise."""
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}; choose one of {', '.join(TASKS)} (wirelessdata task list)")
    return TASKS[name]


@overload
def get(name: str, source: None = None, **settings: Any) -> Task: ...
@overload
def get(name: str, source: Source, **settings: Any) -> TaskView: ...
def get(name: str, source: Source | None = None, **settings: Any) -> Task | TaskView:
    """Task ``name`` with its parameters, impairments and ``seed`` in ``settings``; over ``source`` a view.

    Example: ``get("channel-estimation", "wirelessdata-out", pilots="4x12", snr_db=10, batch_size=64)`` gives a
    :class:`TaskView` of (LS pilot estimates, clean CSI) pairs; ``get("channel-estimation", pilots="4x12")`` the
    :class:`Task` (call ``.view(source, ...)``). View options in ``settings``: ``split``, ``batch_size``,
    ``shuffle``, ``test_fraction``.
    """
    view_opts = {k: settings.pop(k) for k in ("split", "batch_size", "shuffle", "test_fraction") if k in settings}
    task = task_class(name)(**settings)
    if source is None:
        if view_opts:
            raise ConfigError(f"{', '.join(view_opts)}: view options need a source (shards or a manifest)")
        return task
    return task.view(source, **view_opts)
