"""What a shard will hold, known before any sample exists: its modalities, dimension sizes, coordinates and
attributes (:class:`ShardSpec`, what a source declares), and with its sample count and blocking
(:class:`ShardLayout`, what the store creates)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wirelessdata.errors import StoreError
from wirelessdata.shard.schema import Schema, VariableSpec


def recipe_hash(recipe: Mapping[str, Any]) -> str:
    """sha256 hex digest of the canonical JSON (sorted keys, no spaces) of ``recipe``."""
    canonical = json.dumps(recipe, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class RaggedSpec:
    """A ragged dimension: ``dim`` rows per sample at most, indexed by ``<prefix>_start``/``_count``."""

    dim: str
    prefix: str
    capacity_per_sample: int


@dataclass(frozen=True)
class ShardLayout:
    """What a shard will hold, known before any sample is generated.

    :param modalities: modalities present (``core`` is implied), e.g. ``("csi",)``.
    :param num_samples: samples in the shard.
    :param block_size: samples per block; the last block may be shorter.
    :param sizes: sizes of the dims other than ``sample``, ``block`` and ragged dims,
        e.g. ``{"time": 24, "subcarrier": 64, "bs_ant": 32, "ue_ant": 1, "xyz": 3}``.
    :param coords: arrays without a ``sample`` dim written at creation, e.g. ``time`` float64 [T] s,
        ``subcarrier`` float64 [K] Hz, ``bs_ant_pos`` float32 [Nbs, 3] m.
    :param attrs: group attributes (recipe, band, carrier, ...); bookkeeping attributes are added.
    :param optional: optional per-sample variables the writer provides, besides the required ones.
    :param ragged: ragged dimensions with their per-sample capacity.
    """

    modalities: tuple[str, ...]
    num_samples: int
    block_size: int
    sizes: Mapping[str, int]
    coords: Mapping[str, np.ndarray]
    attrs: Mapping[str, Any]
    optional: tuple[str, ...] = ()
    ragged: tuple[RaggedSpec, ...] = field(default_factory=tuple)

    @property
    def num_blocks(self) -> int:
        """Number of blocks, ``ceil(num_samples / block_size)``."""
        return -(-self.num_samples // self.block_size)

    def block_range(self, block: int) -> tuple[int, int]:
        """Sample range ``[start, stop)`` of ``block``."""
        start = block * self.block_size
        return start, min(start + self.block_size, self.num_samples)

    def variables(self, schema: Schema) -> list[VariableSpec]:
        """The schema variables this shard holds: required ones of its modalities plus ``optional``."""
        unknown = [n for n in self.optional if n not in schema.variables or schema.variables[n].required]
        if unknown:
            raise StoreError(f"optional variables {unknown} are not optional variables of the schema")
        return [v for v in schema.variables_of(self.modalities) if v.required or v.name in self.optional]


@dataclass(frozen=True)
class ShardSpec:
    """What a source declares of one shard before it knows how many samples it makes (see :class:`ShardLayout`
    for the fields): a generator's ``shard_layouts(config)`` returns one per shard key (a band)."""

    modalities: tuple[str, ...]
    sizes: Mapping[str, int]
    coords: Mapping[str, np.ndarray]
    attrs: Mapping[str, Any]
    optional: tuple[str, ...] = ()
    ragged: tuple[RaggedSpec, ...] = field(default_factory=tuple)

    def layout(self, num_samples: int, block_size: int, attrs: Mapping[str, Any] | None = None) -> ShardLayout:
        """The layout of ``num_samples`` samples in blocks of ``block_size``, with ``attrs`` added to the spec's."""
        return ShardLayout(
            modalities=tuple(self.modalities),
            num_samples=num_samples,
            block_size=block_size,
            sizes=self.sizes,
            coords=self.coords,
            attrs={**self.attrs, **(attrs or {})},
            optional=tuple(self.optional),
            ragged=tuple(self.ragged),
        )
