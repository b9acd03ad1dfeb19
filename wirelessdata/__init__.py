"""wirelessdata: pretraining corpora for wireless foundation models.

Generators write space-time-frequency CSI and aligned sensing into Zarr v3 dataset shards
under one schema (``schemas/csi-v1.json``); every shard opens with plain ``xarray.open_zarr``.
"""

__version__ = "0.1.0"

from wirelessdata import _moved

_moved.install()
