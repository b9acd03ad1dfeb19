"""TR 38.901 large-scale-parameter tables (Table 7.5-6) as shipped with Sionna: lgDS and K mean and std.

The numbers are read from Sionna's parameter JSON files (``sionna/phy/channel/tr38901/models/v19_2``),
never copied here; Sionna is located with :func:`importlib.util.find_spec`, so reading the tables does
not import Sionna (or torch). The only rule written down here is the carrier clipping of Table 7.5-6's
notes, which Sionna keeps in code (``clip_carrier_frequency_lsp``): frequency-dependent LSPs use
``max(fc, 6 GHz)`` in UMa and InH, ``max(fc, 2 GHz)`` in UMi, and ``fc`` in RMa.

An LSP ``X`` with parameters ``Xa, Xb, Xc`` is ``Xa * log10(Xb + fc_GHz) + Xc`` (Sionna's
``_get_log_linear_param``); the K-factor has no frequency dependence.
"""

from __future__ import annotations

import importlib.util
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

LSP_MIN_FREQUENCY_GHZ = {"UMa": 6.0, "UMi": 2.0, "RMa": 0.0, "InH": 6.0}
"""Carrier clipping of the frequency-dependent LSPs per scenario, GHz (Table 7.5-6, notes)."""

TABLE_DIRS = {"16.1": "v16_1", "19.2": "v19_2"}
"""Sionna's folder of each TR 38.901 version."""

DEFAULT_VERSION = "19.2"


@dataclass(frozen=True)
class LspStats:
    """Distribution of the delay spread and K-factor of one (scenario, link state, carrier).

    :param mu_lgds: mean of log10(DS / 1 s).
    :param sigma_lgds: standard deviation of log10(DS / 1 s).
    :param mu_k_db: mean K-factor, dB (0 with ``sigma_k_db`` 0 where the state has no LoS component).
    :param sigma_k_db: standard deviation of the K-factor, dB.
    """

    mu_lgds: float
    sigma_lgds: float
    mu_k_db: float
    sigma_k_db: float


def table_dir(version: str = DEFAULT_VERSION) -> Path | None:
    """Folder of Sionna's TR 38.901 parameter files of ``version``; None when Sionna is not installed."""
    spec = importlib.util.find_spec("sionna")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "phy/channel/tr38901/models" / TABLE_DIRS[version]
    return folder if folder.is_dir() else None


def spec_version(label: object) -> str:
    """The table version named in a shard's ``spec_version`` attribute (e.g. ``"TR 38.901 v19.2 ..."``)."""
    text = str(label or "")
    return next((v for v in TABLE_DIRS if f"v{v}" in text or text == v), DEFAULT_VERSION)


def link_state(scenario: str, los: bool, indoor: bool) -> str:
    """Table of a sample: ``O2I`` for indoor UEs of outdoor scenarios, else ``LoS`` or ``NLoS``.

    InH is indoors by definition: its UEs use the InH LoS/NLoS tables whatever ``indoor`` says.
    """
    if indoor and scenario != "InH":
        return "O2I"
    return "LoS" if los else "NLoS"


@lru_cache(maxsize=64)
def lsp_stats(scenario: str, state: str, carrier_hz: float, version: str = DEFAULT_VERSION) -> LspStats | None:
    """lgDS and K statistics of ``scenario`` (UMa, UMi, RMa, InH) in ``state`` (LoS, NLoS, O2I) at ``carrier_hz``.

    :returns: None when the scenario has no table (synthetic or measured shards) or Sionna is absent.
    """
    folder = table_dir(version)
    if folder is None or scenario not in LSP_MIN_FREQUENCY_GHZ:
        return None
    path = folder / f"{scenario}_{state}.json"
    if not path.is_file():
        return None
    p = json.loads(path.read_text())
    fc = max(carrier_hz / 1e9, LSP_MIN_FREQUENCY_GHZ[scenario])

    def log_linear(name: str) -> float:
        return p[f"{name}a"] * math.log10(p[f"{name}b"] + fc) + p[f"{name}c"]

    return LspStats(log_linear("muDS"), log_linear("sigmaDS"), float(p["muK"]), float(p["sigmaK"]))
