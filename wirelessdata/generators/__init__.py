"""Channel generators. ``tr38901``: statistical 3GPP TR 38.901 drops on Sionna, multi-band per §7.6.5.

Parameter tables are data files next to the code: ``bands.toml`` (band presets, default bands) and
``scenarios.toml`` (TR 38.901 scenario defaults).
"""

from wirelessdata.generators.bands import DEFAULT_BANDS, Band, band_presets
from wirelessdata.generators.tr38901 import Tr38901Config, generate_block, shard_layouts

__all__ = ["DEFAULT_BANDS", "Band", "Tr38901Config", "band_presets", "generate_block", "shard_layouts"]
