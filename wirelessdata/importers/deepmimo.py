"""DeepMIMO v4 scenario folders -> one CSI shard per scenario, for a chosen array and OFDM numerology.

A v4 scenario folder holds ``params.json`` (keys ``version, rt_params, txrx_sets, materials, scene``) and, per
transmitter-receiver pair, ``{matrix}_t{tx_set:03}_tx{tx_idx:03}_r{rx_set:03}.npz`` files (one array named
like the matrix): ``power`` (dBW), ``phase`` (deg), ``delay`` (s), ``aoa_az, aoa_el, aod_az, aod_el`` (deg;
``*_el`` is the zenith angle, 0 = up), ``inter`` (interaction codes, 0 = LoS), ``rx_pos``, ``tx_pos`` (m);
NaN pads absent paths. The files are read with numpy: the ``deepmimo`` package pins numpy < 2.3 and its
loader resolves scenarios by name in its own folder (asking on stdin to download a missing one), so it
is neither installable next to this project nor usable offline on an arbitrary folder.

The channel follows ``deepmimo``'s definition (isotropic elements, panel in the y-z plane facing +x,
element of column ``c`` and row ``r`` at ``(0, c d, r d)``, subcarrier ``k`` at ``k * spacing`` from the carrier, paths
arriving after the OFDM symbol ``1 / spacing`` dropped) without its ``1/sqrt(N)`` normalisation:
``csi[s, 0, k, m, u] = sqrt(N) * deepmimo_channel[s, u, m, k]``, so ``csi`` is the frequency response with
the path loss in it and ``path_gain_db`` the mean channel power gain (0 dBW transmit power).

Receivers without a path (DeepMIMO ``los = -1``) are skipped and reported, never stored as zero channels.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wirelessdata.constants import SPEED_OF_LIGHT
from wirelessdata.importers.common import (
    FLAGGED,
    NUMPY_FILE_DAMAGE,
    SKIPPED,
    Defect,
    ImportResult,
    Progress,
    SourceError,
    counts,
    importer_flag,
    run_import,
    shard_attrs,
)
from wirelessdata.shard.layout import ShardLayout
from wirelessdata.source.contract import Importer

IMPORTER_VERSION = 1
"""Bumped when the same source would be written differently (part of the recipe, so of the resume key)."""
PATH_MATRICES = ("power", "phase", "delay", "aoa_az", "aoa_el", "aod_az", "aod_el")
MATRICES = (*PATH_MATRICES, "inter", "rx_pos", "tx_pos")
SOURCE_UNITS = {
    "power": "dBW",
    "phase": "deg",
    "delay": "s",
    **{a: "deg" for a in ("aoa_az", "aoa_el", "aod_az", "aod_el")},
    "rx_pos": "m",
    "tx_pos": "m",
    "rt_params.frequency": "Hz",
}
"""Units of the v4 layout (v3 used other ones, e.g. path power in W and bandwidth in GHz)."""


@dataclass(frozen=True)
class ChannelConfig:
    """The array and OFDM numerology the CSI is computed for (part of the recipe).

    :param bs_array: BS panel ``(rows, columns)``: vertical x horizontal elements (deepmimo's
        ``bs_antenna.shape`` is ``(columns, rows)``).
    :param ue_array: UE panel ``(rows, columns)``.
    :param spacing: element spacing, wavelengths at the carrier.
    :param num_subcarriers: subcarriers K (all of them are kept).
    :param subcarrier_spacing_hz: subcarrier spacing; the bandwidth is ``K * spacing``.
    :param block_size: receivers per block.
    """

    bs_array: tuple[int, int] = (1, 8)
    ue_array: tuple[int, int] = (1, 1)
    spacing: float = 0.5
    num_subcarriers: int = 64
    subcarrier_spacing_hz: float = 30e3
    block_size: int = 256

    def check(self) -> None:
        """:class:`SourceError` naming the first invalid field."""
        if min(*self.bs_array, *self.ue_array) < 1:
            raise SourceError(f"arrays {self.bs_array} / {self.ue_array}: want at least 1x1 elements")
        if not self.spacing > 0 or not self.subcarrier_spacing_hz > 0:
            raise SourceError("--spacing and --subcarrier-spacing must be > 0")
        if self.num_subcarriers < 1 or self.block_size < 1:
            raise SourceError("--subcarriers and --block-size must be >= 1")

    @property
    def symbol_s(self) -> float:
        """OFDM symbol duration ``1 / spacing`` (s): later paths alias and are dropped."""
        return 1.0 / self.subcarrier_spacing_hz


def element_positions(panel: tuple[int, int], spacing: float) -> np.ndarray:
    """float64 [M, 3]: positions (wavelengths) of a ``(rows, columns)`` panel in the y-z plane: column
    ``c`` at ``y = c * spacing``, row ``r`` at ``z = r * spacing``, deepmimo's order (column index fastest)."""
    rows, cols = panel
    return (
        np.stack([np.zeros(rows * cols), np.tile(np.arange(cols), rows), np.repeat(np.arange(rows), cols)], 1) * spacing
    )


def steering(positions: np.ndarray, zenith_deg: np.ndarray, azimuth_deg: np.ndarray) -> np.ndarray:
    """complex128 [..., M]: ``exp(j 2 pi p_m . u)`` for unit vectors u of the angles [...] (deg)."""
    th, ph = np.radians(zenith_deg), np.radians(azimuth_deg)
    u = np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)], axis=-1)
    return np.exp(2j * np.pi * (u @ positions.T))


@dataclass(frozen=True, order=True)
class Pair:
    """A transmitter of a TX set and a receiver set: one group of ``.npz`` files."""

    tx_set: int
    tx_idx: int
    rx_set: int

    @property
    def key(self) -> str:
        """``t{tx_set:03}_tx{tx_idx:03}_r{rx_set:03}``, as in the file names."""
        return f"t{self.tx_set:03}_tx{self.tx_idx:03}_r{self.rx_set:03}"

    def sample_ids(self, rx: np.ndarray) -> np.ndarray:
        """uint64 ids ``tx_set e15 + tx_idx e12 + rx_set e9 + rx`` (readable in decimal, stable)."""
        base = ((self.tx_set * 1000 + self.tx_idx) * 1000 + self.rx_set) * 10**9
        return np.uint64(base) + rx.astype(np.uint64)


def read_params(folder: Path) -> dict[str, Any]:
    """``params.json`` of a static v4 scenario; :class:`SourceError` for anything else."""
    if not folder.is_dir():
        what = "does not exist" if not folder.exists() else "is not a folder"
        raise SourceError(f"{folder}: {what}; give a DeepMIMO v4 scenario folder holding params.json")
    path = folder / "params.json"
    if not path.is_file():
        v3 = " (params.mat: a DeepMIMO v3 scenario, whose units differ; this importer reads v4)"
        raise SourceError(f"{folder}: no params.json{v3 if (folder / 'params.mat').exists() else ''}")
    try:
        params = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(f"{path}: not a DeepMIMO params.json ({exc})") from exc
    if not isinstance(params, dict):
        raise SourceError(f"{path}: not a DeepMIMO v4 params.json (a JSON {type(params).__name__}, not an object)")
    if missing := [k for k in ("version", "rt_params", "txrx_sets") if k not in params]:
        raise SourceError(f"{path}: not a DeepMIMO v4 params.json (missing {', '.join(missing)})")
    if not str(params["version"]).startswith("4"):
        raise SourceError(f"{path}: DeepMIMO version {params['version']}; this importer reads v4 (v3 units differ)")
    _check_structure(path, params)
    if _count(params.get("scene", {}).get("num_scenes", 1)) > 1:
        raise SourceError(f"{path}: a dynamic scenario ({params['scene']['num_scenes']} scenes); import one scene")
    frequency = params["rt_params"].get("frequency")
    if isinstance(frequency, bool) or not isinstance(frequency, int | float) or not frequency > 0:
        raise SourceError(f"{path}: rt_params.frequency {frequency!r} is not a frequency in Hz")
    return params


def _count(value: Any) -> int:
    """A non-negative integer count of params.json (an int, or a float with an integer value), else -1."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) or value < 0:
        return -1
    return int(value)


def _check_structure(path: Path, params: dict[str, Any]) -> None:
    """A :class:`SourceError` naming the first field of ``params`` whose type the importer cannot read."""
    for key in ("rt_params", "txrx_sets", "scene"):
        if key in params and not isinstance(params[key], dict):
            raise SourceError(f"{path}: {key} is a {type(params[key]).__name__}, not an object")
    if _count(params.get("scene", {}).get("num_scenes", 1)) < 0:
        raise SourceError(f"{path}: scene.num_scenes {params['scene']['num_scenes']!r} is not a count")
    for name, entry in params["txrx_sets"].items():
        if not name.startswith("txrx_set_"):
            continue
        if not isinstance(entry, dict):
            raise SourceError(f"{path}: txrx_sets.{name} is a {type(entry).__name__}, not an object")
        for field_name in ("id", "num_points"):
            if _count(entry.get(field_name)) < 0:
                raise SourceError(f"{path}: txrx_sets.{name}.{field_name} {entry.get(field_name)!r} is not a count")


def find_pairs(params: dict[str, Any]) -> list[Pair]:
    """Every (TX set, TX index, RX set) pair; RX sets that also transmit are left out, as deepmimo does."""
    sets = [s for k, s in params["txrx_sets"].items() if k.startswith("txrx_set_")]
    tx = [s for s in sets if s.get("is_tx")]
    rx = [s for s in sets if s.get("is_rx") and not s.get("is_tx")]
    pairs = sorted(Pair(int(t["id"]), i, int(r["id"])) for t in tx for r in rx for i in range(int(t["num_points"])))
    if any(p.tx_set >= 18000 or p.tx_idx >= 1000 or p.rx_set >= 1000 for p in pairs):
        raise SourceError("TX/RX set ids >= 1000 (or TX index >= 1000) do not fit the sample id scheme")
    return pairs


def load_pair(folder: Path, pair: Pair) -> dict[str, np.ndarray]:
    """The matrices of ``pair``; ValueError naming the file that is missing, unreadable or mis-shaped."""
    out = {}
    for name in MATRICES:
        path = folder / f"{name}_{pair.key}.npz"
        if not path.is_file():
            raise ValueError(f"{path.name} is missing")
        try:
            with np.load(path) as f:
                out[name] = np.asarray(f[name], dtype=np.float64)
        except NUMPY_FILE_DAMAGE as exc:
            raise ValueError(f"{path.name} is unreadable ({type(exc).__name__}: {exc})") from exc
    n, p = out["power"].shape if out["power"].ndim == 2 else (-1, -1)
    bad = [k for k in (*PATH_MATRICES, "inter") if out[k].shape[:2] != (n, p)]
    if n < 0 or bad or out["rx_pos"].shape != (n, 3) or out["tx_pos"].reshape(-1, 3).shape[0] != 1:
        shapes = {k: v.shape for k, v in out.items()}
        raise ValueError(f"inconsistent matrix shapes {shapes}")
    out["tx_pos"] = out["tx_pos"].reshape(3)
    return out


def path_masks(m: dict[str, np.ndarray], symbol_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """bool [n, P] each: paths with every value finite; paths partly NaN; valid paths arriving after the symbol."""
    finite = np.stack([np.isfinite(m[k]) for k in PATH_MATRICES])
    valid = finite.all(axis=0)
    return valid, finite.any(axis=0) & ~valid, valid & (m["delay"] >= symbol_s)


@dataclass
class Scan:
    """The result of the scan: kept receivers per pair, defects, scenario facts."""

    folder: Path
    params: dict[str, Any]
    pairs: list[Pair] = field(default_factory=list)
    rx: list[np.ndarray] = field(default_factory=list)
    flagged: list[np.ndarray] = field(default_factory=list)
    defects: list[Defect] = field(default_factory=list)
    rows_total: int = 0

    @property
    def num_rows(self) -> int:
        """Receivers kept."""
        return int(sum(r.size for r in self.rx))

    @property
    def rows_flagged(self) -> int:
        """Receivers kept with the ``importer_defect`` quality flag."""
        return int(sum(f.sum() for f in self.flagged))


def scan(folder: Path, config: ChannelConfig, progress: Progress | None = None) -> Scan:
    """Check every pair's matrices and every receiver; list the defects; keep the good receivers."""
    params = read_params(folder)
    pairs = find_pairs(params)
    if not pairs:
        raise SourceError(f"{folder}/params.json: no transmitter and receiver sets to pair (txrx_sets)")
    result = Scan(folder, params)
    for i, pair in enumerate(pairs):
        _scan_pair(result, pair, config)
        if progress is not None:
            progress("scan", i + 1, len(pairs))
    if not result.num_rows:
        raise SourceError(f"{folder}: no receiver can be imported ({counts(result.defects)})")
    result.defects.sort(key=lambda d: (d.source, d.row is not None, d.row or 0))
    return result


def _scan_pair(result: Scan, pair: Pair, config: ChannelConfig) -> None:
    try:
        m = load_pair(result.folder, pair)
    except ValueError as exc:
        n = int(result.params["txrx_sets"].get(f"txrx_set_{pair.rx_set}", {}).get("num_points", 0))
        result.rows_total += n
        result.defects.append(Defect(None, pair.key, "pair_unreadable", f"{exc}: its {n} receivers skipped", SKIPPED))
        return
    n = m["rx_pos"].shape[0]
    result.rows_total += n
    if not np.isfinite(m["tx_pos"]).all():
        result.defects.append(
            Defect(None, pair.key, "nan_position", f"tx_pos {m['tx_pos']}: {n} rows skipped", SKIPPED)
        )
        return
    valid, partial, late = path_masks(m, config.symbol_s)
    usable = valid & ~late
    reasons = [
        (~np.isfinite(m["rx_pos"]).all(axis=1), "nan_position", lambda r: f"rx_pos {m['rx_pos'][r]} is not finite"),
        (~valid.any(axis=1), "no_path", lambda r: "no path (DeepMIMO los = -1): not stored as a zero channel"),
        (
            ~usable.any(axis=1),
            "no_path_in_symbol",
            lambda r: f"all {valid[r].sum()} paths arrive after the OFDM symbol ({config.symbol_s * 1e6:.3g} us)",
        ),
    ]
    skip = np.zeros(n, dtype=bool)
    for mask, code, detail in reasons:
        for r in np.flatnonzero(mask & ~skip):
            result.defects.append(Defect(int(r), pair.key, code, detail(r), SKIPPED))
        skip |= mask
    flags = [
        (
            partial.any(axis=1),
            "path_inconsistent",
            lambda r: f"{partial[r].sum()} paths partly NaN (e.g. angles without power): dropped",
        ),
        (
            late.any(axis=1),
            "delay_beyond_symbol",
            lambda r: (
                f"{late[r].sum()} paths arrive after the OFDM symbol ({config.symbol_s * 1e6:.3g} us): "
                "dropped, as deepmimo does (a lower --subcarrier-spacing keeps them)"
            ),
        ),
    ]
    flagged = np.zeros(n, dtype=bool)
    for mask, code, detail in flags:
        for r in np.flatnonzero(mask & ~skip):
            result.defects.append(Defect(int(r), pair.key, code, detail(r), FLAGGED))
        flagged |= mask
    keep = np.flatnonzero(~skip)
    result.pairs.append(pair)
    result.rx.append(keep)
    result.flagged.append(flagged[keep])


def channel_block(m: dict[str, np.ndarray], rx: np.ndarray, config: ChannelConfig) -> dict[str, np.ndarray]:
    """Per-sample arrays of receivers ``rx`` of one pair's matrices ``m``.

    :returns: ``csi`` complex64 [n, 1, K, M_bs, M_ue] and the labels ``los``, ``path_gain_db`` (dB),
        ``delay_spread_s`` (s), ``distance_m`` (m), ``ue_pos`` [n, 1, 3], ``bs_pos`` [n, 3] (m, scene frame).
    """
    sub = {k: m[k][rx] for k in (*PATH_MATRICES, "inter", "rx_pos")}
    valid, _, late = path_masks(sub, config.symbol_s)
    use = valid & ~late
    clean = {k: np.where(use, sub[k], 0.0) for k in PATH_MATRICES}
    lin = np.where(use, 10 ** (clean["power"] / 10), 0.0)  # W, 0 for dropped paths
    amp = np.sqrt(lin) * np.exp(1j * np.radians(clean["phase"]))
    freqs = np.arange(config.num_subcarriers) * config.subcarrier_spacing_hz
    resp = np.exp(-2j * np.pi * clean["delay"][:, None, :] * freqs[None, :, None])  # [n, K, P]
    a_bs = steering(element_positions(config.bs_array, config.spacing), clean["aod_el"], clean["aod_az"])
    a_ue = steering(element_positions(config.ue_array, config.spacing), clean["aoa_el"], clean["aoa_az"])
    n, p = amp.shape
    gains = (amp[:, :, None, None] * a_bs[:, :, :, None] * a_ue[:, :, None, :]).reshape(n, p, -1)
    csi = (resp @ gains).reshape(n, 1, config.num_subcarriers, a_bs.shape[-1], a_ue.shape[-1])
    tau = clean["delay"]
    mean_tau = (lin * tau).sum(1) / lin.sum(1)
    spread = np.sqrt(np.maximum((lin * tau**2).sum(1) / lin.sum(1) - mean_tau**2, 0.0))
    tx = np.broadcast_to(m["tx_pos"], (n, 3))
    return {
        "csi": csi.astype(np.complex64),
        "los": (sub["inter"][:, 0] == 0) & valid[:, 0],
        "path_gain_db": (10 * np.log10(np.mean(np.abs(csi) ** 2, axis=(1, 2, 3, 4)))).astype(np.float32),
        "delay_spread_s": spread.astype(np.float32),
        "distance_m": np.linalg.norm(sub["rx_pos"] - tx, axis=1).astype(np.float32),
        "ue_pos": sub["rx_pos"][:, None, :].astype(np.float32),
        "bs_pos": tx.astype(np.float32),
        "ue_vel": np.zeros((n, 3), np.float32),
    }


class BlockReader:
    """Computes the CSI of one block of kept receivers (loading each pair's matrices once in order)."""

    def __init__(self, scan_: Scan, layout: ShardLayout, config: ChannelConfig) -> None:
        self.scan = scan_
        self.layout = layout
        self.config = config
        self.row_pair = np.concatenate([np.full(r.size, i) for i, r in enumerate(scan_.rx)])
        self.row_rx = np.concatenate(scan_.rx)
        self.row_flag = np.concatenate(scan_.flagged)
        self._cached: tuple[int, dict[str, np.ndarray]] | None = None

    def _matrices(self, i: int) -> dict[str, np.ndarray]:
        if self._cached is None or self._cached[0] != i:
            self._cached = (i, load_pair(self.scan.folder, self.scan.pairs[i]))
        return self._cached[1]

    def __call__(self, block: int) -> dict[str, np.ndarray]:
        """Per-sample arrays of ``block``."""
        start, stop = self.layout.block_range(block)
        parts = []
        for i in np.unique(self.row_pair[start:stop]):
            rows = np.arange(start, stop)[self.row_pair[start:stop] == i]
            rx = self.row_rx[rows]
            part = channel_block(self._matrices(int(i)), rx, self.config)
            part["sample_id"] = self.scan.pairs[int(i)].sample_ids(rx)
            parts.append(part)
        data = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        data["quality_flags"] = np.where(self.row_flag[start:stop], importer_flag(), 0).astype(np.uint32)
        return data


def _band(frequency: float) -> str:
    return f"{frequency / 1e9:g}GHz"


def _recipe(scan_: Scan, config: ChannelConfig) -> dict[str, Any]:
    files = sorted(p for p in scan_.folder.glob("*.npz"))
    ids = np.concatenate([p.sample_ids(r) for p, r in zip(scan_.pairs, scan_.rx, strict=True)])
    return {
        "importer": "deepmimo",
        "importer_version": IMPORTER_VERSION,
        "source": str(scan_.folder.resolve()),
        "params_sha256": hashlib.sha256((scan_.folder / "params.json").read_bytes()).hexdigest(),
        "files_sha256": hashlib.sha256("".join(f"{p.name}:{p.stat().st_size};" for p in files).encode()).hexdigest(),
        "rows_sha256": hashlib.sha256(ids.tobytes()).hexdigest(),
        "config": asdict(config),
    }


def layout_for(scan_: Scan, config: ChannelConfig) -> ShardLayout:
    """The shard layout of the kept receivers."""
    params, rt = scan_.params, scan_.params["rt_params"]
    carrier = float(rt["frequency"])
    wavelength = SPEED_OF_LIGHT / carrier
    k, scs = config.num_subcarriers, config.subcarrier_spacing_hz
    bs, ue = element_positions(config.bs_array, config.spacing), element_positions(config.ue_array, config.spacing)
    attrs = shard_attrs(
        _recipe(scan_, config),
        generator="deepmimo",
        engine_version=f"DeepMIMO {params['version']} ({rt.get('raytracer_name', 'unknown ray tracer')} "
        f"{rt.get('raytracer_version', '')})".replace(" )", ")"),
        carrier_frequency_hz=carrier,
        bandwidth_hz=k * scs,
        subcarrier_spacing_hz=scs,
        band=_band(carrier),
        scenario=scan_.folder.name,
        link="downlink",
        bs_array=f"{config.bs_array[0]}x{config.bs_array[1]}",
        ue_array=f"{config.ue_array[0]}x{config.ue_array[1]}",
        antenna_spacing_wavelengths=config.spacing,
        source_version=str(params["version"]),
        source_units=SOURCE_UNITS,
        channel_convention="deepmimo's channel (isotropic elements, panel in the y-z plane, subcarrier k at "
        "k x spacing, paths after the OFDM symbol dropped) times sqrt(K): csi[s, 0, k, m, u] = "
        "sqrt(K) deepmimo[s, u, m, k]; los as deepmimo (first path is LoS)",
        import_defect_counts=counts(scan_.defects),
    )
    return ShardLayout(
        modalities=("csi",),
        num_samples=scan_.num_rows,
        block_size=config.block_size,
        sizes={"time": 1, "subcarrier": k, "bs_ant": len(bs), "ue_ant": len(ue)},
        coords={
            "time": np.zeros(1),
            "subcarrier": np.arange(k) * scs,
            "bs_ant_pos": bs * wavelength,
            "ue_ant_pos": ue * wavelength,
        },
        attrs=attrs,
        optional=("delay_spread_s", "distance_m"),
    )


def shard_name(scan_: Scan) -> str:
    """The scenario's shard name: ``deepmimo-<scenario>``."""
    return f"deepmimo-{scan_.folder.name.lower()}"


SOURCE = Importer(
    name="deepmimo",
    Options=ChannelConfig,
    scan=scan,
    layout=layout_for,
    shard_name=shard_name,
    block_reader=BlockReader,
)
"""The DeepMIMO v4 importer (entry point ``deepmimo`` of ``wirelessdata.importers``)."""


def import_deepmimo(
    path: str | Path,
    root: str,
    strict: bool = False,
    config: ChannelConfig = ChannelConfig(),
    overwrite: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Import one DeepMIMO v4 scenario folder into ``ROOT/deepmimo-<scenario>.zarr``.

    :param path: the scenario folder (``params.json`` and the ``*.npz`` matrices).
    :param root: the dataset root (a folder; its catalog registers the shard).
    :param strict: raise :class:`~wirelessdata.importers.common.StrictError` on any defect, before writing.
    :param config: array and OFDM numerology of the CSI.
    :param overwrite: replace a shard of the same name written from another source or configuration.
    """
    return run_import(SOURCE, path, root, config, strict, overwrite, progress)
