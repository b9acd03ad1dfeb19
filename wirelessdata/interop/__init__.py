"""Interoperability: exports for other model code, dataset cards, and figures of a sample.

Python API, mirroring the CLI (names resolve lazily, so importing the CLI stays cheap)::

    plan = plan_from_shards(["root/"], val_fraction=0.1, test_fraction=0.2)   # or plan_from_manifest(path)
    export_tensors(plan, "dataset/D1", "wifo")        # export wifo: X_{train,val,test}.mat, key X_train / X_val
    export_tensors(plan, "dataset/D1", "wifo2")       # export wifo2: X_{split}.pt, [N, 2, T, N_ant, K]
    export_arrays(plan_whole(["root/"]), "out", "numpy")   # export numpy|hdf5, with JSON sidecars
    write_card(root)                                  # card: croissant.json + README.md
    plot_sample(shard, sample=0, out="figs")          # plot: PNGs of one sample

See docs/interop.md.
"""

from __future__ import annotations

from wirelessdata.lazy import lazy_getattr

_API = {
    "ExportPlan": "sources",
    "plan_from_shards": "sources",
    "plan_from_manifest": "sources",
    "plan_whole": "sources",
    "Standardisation": "standardise",
    "export_tensors": "wifo",
    "export_arrays": "arrays",
    "MatWriter": "mat",
    "write_card": "card",
    "croissant": "card",
    "plot_sample": "plot",
}
__all__ = sorted(_API)

__getattr__ = lazy_getattr(__name__, _API)
