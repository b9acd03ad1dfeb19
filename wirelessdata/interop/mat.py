"""MATLAB v7.3 MAT-files (HDF5 with a 512-byte MATLAB header) written in slices with h5py.

A v7.3 file is an HDF5 file whose user block starts with the 128-byte MATLAB header. MATLAB stores arrays
column-major, so an array of shape ``(N, T, A, K)`` is the HDF5 dataset of shape ``(K, A, T, N)``; complex
values are the compound type ``{real, imag}`` and the attribute ``MATLAB_class`` names the element type.
``hdf5storage.loadmat`` (what WiFo's loader calls) and MATLAB's ``load`` give back ``(N, T, A, K)``.
Writing slices along the last MATLAB axis (samples) keeps memory bounded whatever the file size.
"""

from __future__ import annotations

import datetime as _dt
import sys
from pathlib import Path
from types import TracebackType

import numpy as np

from wirelessdata.errors import StoreError

HEADER_BYTES = 512
MATLAB_CLASS = {np.dtype(np.complex64): "single", np.dtype(np.complex128): "double"}
CHUNK_BYTES = 2**20


def matlab_header() -> bytes:
    """The 128 bytes MATLAB expects at the start of a v7.3 file: text, subsystem offset, version 0x0200, 'IM'."""
    text = (
        f"MATLAB 7.3 MAT-file, Platform: {sys.platform}, Created on: "
        f"{_dt.datetime.now().strftime('%a %b %d %H:%M:%S %Y')} HDF5 schema 1.00 ."
    )
    return text.encode("ascii").ljust(116, b" ")[:116] + b"\x00" * 8 + b"\x00\x02IM"


class MatWriter:
    """One complex variable ``name`` of shape ``(N, *rest)`` in a new v7.3 file, filled by sample slices.

    :param path: file to create (replaced if it exists).
    :param name: MATLAB variable name, e.g. ``X_val``.
    :param shape: shape as MATLAB and ``hdf5storage.loadmat`` see it, samples first.
    :param dtype: complex64 (MATLAB single) or complex128 (double).
    """

    def __init__(self, path: str | Path, name: str, shape: tuple[int, ...], dtype: np.dtype = np.complex64) -> None:
        import h5py

        self.dtype = np.dtype(dtype)
        if self.dtype not in MATLAB_CLASS:
            raise StoreError(f"{path}: MAT export supports complex64 or complex128, not {self.dtype}")
        part = np.dtype(np.float32 if self.dtype == np.complex64 else np.float64)
        self.compound = np.dtype([("real", part), ("imag", part)])
        self.path, self.shape = Path(path), tuple(int(s) for s in shape)
        stored = self.shape[::-1]  # column-major: samples become the last HDF5 axis
        per_sample = int(np.prod(stored[:-1], dtype=np.int64)) * self.dtype.itemsize
        chunks = (*stored[:-1], max(1, min(self.shape[0], CHUNK_BYTES // max(per_sample, 1))))
        self.file = h5py.File(self.path, "w", userblock_size=HEADER_BYTES, libver="earliest")
        self.dataset = self.file.create_dataset(name, shape=stored, dtype=self.compound, chunks=chunks)
        self.dataset.attrs["MATLAB_class"] = np.bytes_(MATLAB_CLASS[self.dtype])

    def write(self, start: int, values: np.ndarray) -> None:
        """Store ``values`` (``[b, *rest]``, complex) as samples ``start .. start + b - 1``."""
        if tuple(values.shape[1:]) != self.shape[1:] or start + values.shape[0] > self.shape[0]:
            raise StoreError(f"{self.path}: slice {values.shape} at {start} does not fit {self.shape}")
        stored = np.ascontiguousarray(values.astype(self.dtype, copy=False).transpose())
        self.dataset[..., start : start + values.shape[0]] = stored.view(self.compound)

    def close(self) -> None:
        """Close the HDF5 file and write the MATLAB header into its user block."""
        if self.file:
            self.file.close()
            self.file = None
            with open(self.path, "r+b") as fh:
                fh.write(matlab_header())

    def __enter__(self) -> MatWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
