"""Physical constants shared by the generators, sensing models, statistics and curation rules.

Defined here rather than taken from ``scipy.constants``: importing that costs about 0.3 s, which every catalog
query (it imports the statistics definitions) would pay for one number.
"""

SPEED_OF_LIGHT = 299_792_458.0
"""Speed of light in vacuum, m/s (exact in SI)."""
