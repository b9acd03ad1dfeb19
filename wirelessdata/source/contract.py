"""The one contract of a source of shards: a generator (draws samples) or an importer (reads a folder).

A source is a plug-in object registered under an entry point (:mod:`wirelessdata.plugins`): a :class:`Generator`
(group ``wirelessdata.generators``) or an :class:`Importer` (group ``wirelessdata.importers``). Both take their
configuration from a plain mapping (a recipe table, CLI options) through :func:`check_keys`, declare their shards
before any sample exists (:class:`~wirelessdata.shard.layout.ShardSpec` /
:class:`~wirelessdata.shard.layout.ShardLayout`) and produce blocks of per-sample arrays; the one writer
(:mod:`wirelessdata.source.writer`) does everything else (locks, regions, resume, commit, catalog, validation).
docs/architecture.md shows a whole generator in about 30 lines.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from wirelessdata.errors import ConfigError
from wirelessdata.shard.layout import ShardLayout, ShardSpec

Block = dict[str, np.ndarray]
"""One block of one shard: per-sample variable -> array ``[n, ...]`` (schema dtypes and units)."""

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` with stage ``"scan"`` (rows) or ``"write"`` (blocks)."""


class Config(Protocol):
    """A source's configuration: frozen, built from a mapping, recorded in every shard's recipe."""

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> Config:
        """Build from a plain mapping; unknown keys and wrong values are one-line :class:`ConfigError`."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """The plain mapping that :meth:`from_dict` reads back (JSON-ready)."""
        ...


def check_keys(mapping: Mapping[str, Any], allowed: Sequence[str] | type, where: str = "") -> None:
    """The one unknown-key check of every source configuration: a :class:`ConfigError` naming the unknown keys
    of ``mapping`` and the allowed ones (``allowed``: names, or a dataclass whose fields they are)."""
    names = [f.name for f in dataclasses.fields(allowed)] if isinstance(allowed, type) else list(allowed)
    if unknown := sorted(set(mapping) - set(names)):
        prefix = f"{where}: " if where else ""
        raise ConfigError(f"{prefix}unknown key(s) {unknown}; valid keys: {names}")


def config_from_dict(cls: type, mapping: Mapping[str, Any], where: str = "") -> Any:
    """An instance of the configuration class ``cls`` from a plain mapping: its own ``from_dict`` when it has one,
    else (a dataclass) :func:`check_keys` and the fields as given, lists turned into tuples."""
    if hasattr(cls, "from_dict"):
        return cls.from_dict(mapping)
    check_keys(mapping, cls, where)
    try:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in mapping.items()})
    except TypeError as exc:
        raise ConfigError(f"{where or cls.__name__}: {exc}") from exc


@dataclass(frozen=True)
class Generator:
    """A source that draws samples from a model (TR 38.901 on Sionna, Sionna RT, ...).

    :param name: what recipes write (``generator = "tr38901"``) and shards record.
    :param Config: its configuration class (:class:`Config`).
    :param shard_layouts: ``config -> {key: ShardSpec}``: one shard per key (a band), known before any sample.
    :param generate_block: ``(config, num_samples, seed) -> {key: Block}``: a pure function of its arguments, so a
        block has the same bytes on any worker; the plan adds ``sample_id`` and ``quality_flags``.
    """

    name: str
    Config: type
    shard_layouts: Callable[[Any], dict[str, ShardSpec]]
    generate_block: Callable[[Any, int, int], dict[str, Block]]


class Scan(Protocol):
    """What an importer's scan found: the good rows and every defect, before anything is written."""

    rows_total: int
    defects: list[Any]

    @property
    def rows_flagged(self) -> int:
        """Rows imported with the ``importer_defect`` quality flag."""
        ...


@dataclass(frozen=True)
class Importer:
    """A source that reads a third-party dataset folder (DeepSense 6G, DeepMIMO, ...) into one shard.

    :param name: what users type (``wirelessdata import deepsense``).
    :param Options: its options class (:class:`Config`; ``check()`` raises a one-line error on a bad value).
    :param scan: ``(folder, options, progress) -> Scan``: reads and checks every row, writes nothing.
    :param layout: ``(scan, options) -> ShardLayout`` of the shard.
    :param shard_name: ``scan -> name`` of the shard under the dataset root (without ``.zarr``).
    :param block_reader: ``(scan, layout, options) -> (block -> Block)``: the rows of one block as arrays.
    """

    name: str
    Options: type
    scan: Callable[[Path, Any, Progress | None], Scan]
    layout: Callable[[Any, Any], ShardLayout]
    shard_name: Callable[[Any], str]
    block_reader: Callable[[Any, ShardLayout, Any], Callable[[int], Block]]
