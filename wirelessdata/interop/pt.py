"""PyTorch tensor files (``torch.save``) filled by sample slices through a memory-mapped buffer.

``torch.save`` needs the whole tensor; the tensor here lives in a memory-mapped scratch file next to the
output, filled slice by slice, so the export's own memory stays bounded (the page cache holds the rest).
The scratch file is removed once the ``.pt`` file is written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wirelessdata.errors import StoreError


class TensorWriter:
    """A float32 tensor of ``shape`` (samples first) saved with ``torch.save`` to ``path``.

    :param key: save ``{key: tensor}`` instead of the bare tensor (WiFo-2 also reads a dict with key ``test``).
    """

    def __init__(self, path: str | Path, shape: tuple[int, ...], key: str | None = None) -> None:
        self.path, self.shape, self.key = Path(path), tuple(int(s) for s in shape), key
        self.scratch = self.path.with_name(self.path.name + ".scratch")
        self.buffer = np.lib.format.open_memmap(self.scratch, mode="w+", dtype=np.float32, shape=self.shape)

    def write(self, start: int, values: np.ndarray) -> None:
        """Store ``values`` ``[b, *rest]`` as samples ``start .. start + b - 1``."""
        if tuple(values.shape[1:]) != self.shape[1:] or start + values.shape[0] > self.shape[0]:
            raise StoreError(f"{self.path}: slice {values.shape} at {start} does not fit {self.shape}")
        self.buffer[start : start + values.shape[0]] = values

    def close(self) -> None:
        """Save the tensor (or ``{key: tensor}``) and remove the scratch file."""
        import torch

        self.buffer.flush()
        tensor = torch.from_numpy(np.asarray(self.buffer))
        try:
            torch.save(tensor if self.key is None else {self.key: tensor}, self.path)
        finally:
            del tensor
            self.buffer = None
            self.scratch.unlink(missing_ok=True)
