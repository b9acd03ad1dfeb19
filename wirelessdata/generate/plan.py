"""Plans: drop sets resolved into shards, blocks, per-block seeds and sample ids.

Every block is a pure function of (recipe, block index): its seed is derived from the recipe hash
and the block index, so the bytes do not depend on the order of execution or on the number of
workers. The block size is part of the recipe (and of its hash): it is the unit of randomness.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from wirelessdata import plugins
from wirelessdata.generate.planting import plant_block
from wirelessdata.generate.recipe import DropSet
from wirelessdata.shard.layout import ShardLayout, recipe_hash
from wirelessdata.shard.url import shard_url


@dataclass(frozen=True)
class ShardPlan:
    """One shard of a drop set: its band, where it goes and its layout."""

    band: str
    url: str
    layout: ShardLayout


@dataclass(frozen=True)
class DropSetPlan:
    """A drop set with its shards (one per band, sharing drops and sample ids) and its blocks."""

    drops: DropSet
    root: str

    @cached_property
    def recipe(self) -> dict:
        """The drop set's recipe, recorded in every shard."""
        return self.drops.recipe()

    @cached_property
    def recipe_hash(self) -> str:
        """sha256 of the canonical recipe JSON."""
        return recipe_hash(self.recipe)

    @property
    def num_blocks(self) -> int:
        """Blocks of the drop set."""
        return -(-self.drops.num_samples // self.drops.block_size)

    def block_range(self, block: int) -> tuple[int, int]:
        """Sample range ``[start, stop)`` of ``block``."""
        start = block * self.drops.block_size
        return start, min(start + self.drops.block_size, self.drops.num_samples)

    def block_seed(self, block: int) -> int:
        """Seed of ``block``: 63 bits of sha256(recipe_hash, block)."""
        digest = hashlib.sha256(f"{self.recipe_hash}:{block}".encode()).digest()
        return int.from_bytes(digest[:8], "little") >> 1

    def sample_ids(self, start: int, stop: int) -> np.ndarray:
        """uint64 ids of samples ``[start, stop)``: 32 bits of the recipe hash, then the 32-bit index.

        The same drop has the same id in every band's shard.
        """
        prefix = np.uint64(int(self.recipe_hash[:8], 16)) << np.uint64(32)
        return prefix | np.arange(start, stop, dtype=np.uint64)

    @cached_property
    def shards(self) -> dict[str, ShardPlan]:
        """One shard per band, keyed by band label."""
        plans = {}
        for band, spec in plugins.load("generator", self.drops.generator).shard_layouts(self.drops.config).items():
            attrs = {
                "recipe": self.recipe,
                "recipe_hash": self.recipe_hash,
                "seed": self.drops.seed,
                "tags": list(self.drops.tags),
                "drop_set": self.drops.name,
            }
            layout = spec.layout(self.drops.num_samples, self.drops.block_size, attrs)
            url = shard_url(self.root, f"{self.drops.name}-{band}")
            plans[band] = ShardPlan(band, url, layout)
        return plans

    def generate(self, block: int) -> dict[str, dict[str, np.ndarray]]:
        """Arrays of ``block`` for every band's shard, ready for :meth:`wirelessdata.shard.store.Shard.write_block`."""
        start, stop = self.block_range(block)
        gen = plugins.load("generator", self.drops.generator)
        per_band = gen.generate_block(self.drops.config, stop - start, self.block_seed(block))
        if self.drops.plant is not None:
            per_band = plant_block(per_band, self.drops.plant, self.block_seed(block))
        ids = self.sample_ids(start, stop)
        flags = np.zeros(stop - start, np.uint32)
        # a generator may flag samples itself (quality_flags); the plan owns the ids
        return {band: {"quality_flags": flags, **arrays, "sample_id": ids} for band, arrays in per_band.items()}
