"""Channel generators. ``tr38901``: statistical 3GPP TR 38.901 drops on Sionna, multi-band per §7.6.5."""

from wirelessdata.generators.bands import Band, band_presets
from wirelessdata.generators.tr38901 import Tr38901Config, generate_block, shard_layouts

__all__ = ["Band", "Tr38901Config", "band_presets", "generate_block", "shard_layouts"]
