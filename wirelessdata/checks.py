"""Checks of configuration values shared by the generators and sensor models: one-line ConfigErrors
naming the field, the problem and the allowed values."""

from __future__ import annotations

import math
from typing import Any, NoReturn

from wirelessdata.errors import ConfigError


def fail(name: str, problem: str, allowed: Any) -> NoReturn:
    """Raise ``ConfigError("<name>: <problem>; allowed: <allowed>")``."""
    raise ConfigError(f"{name}: {problem}; allowed: {allowed}")


def number(name: str, value: Any) -> float:
    """``value`` if it is a finite int or float (not a bool), else a ConfigError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        fail(name, f"{value!r} is not a finite number", "a number")
    return value


def positive_int(name: str, value: Any) -> None:
    """A ConfigError naming ``name`` unless ``value`` is an integer >= 1 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        fail(name, f"{value!r} is not a positive integer", "an integer >= 1")
