"""`wirelessdata plot`: the PNGs of one sample render, are not blank, and follow the shard's modalities."""

import numpy as np
import pytest
import zarr
from PIL import Image
from typer.testing import CliRunner

from conftest import write_synthetic
from wirelessdata.cli import app
from wirelessdata.errors import WirelessDataError
from wirelessdata.interop.plot import csi_figures

runner = CliRunner()
CSI_KINDS = {"csi-time-subcarrier", "csi-antenna-subcarrier", "pdp", "doppler"}


def not_blank(path):
    """A real picture: a PNG of sensible size with many distinct colours and no single colour covering it."""
    img = np.asarray(Image.open(path).convert("RGB"))
    colours, counts = np.unique(img.reshape(-1, 3), axis=0, return_counts=True)
    return img.shape[0] > 200 and img.shape[1] > 200 and len(colours) > 50 and counts.max() < 0.95 * counts.sum()


def test_plots_of_a_sample_with_csi_and_sensing(tmp_path):
    url = str(tmp_path / "s.zarr")
    write_synthetic(url, num_samples=6, block_size=3, modalities=("csi", "rgb", "lidar", "radar"), sizes={"time": 8})
    res = runner.invoke(app, ["plot", url, "--sample", "4", "--out", str(tmp_path / "figs")])
    assert res.exit_code == 0, res.output
    files = {p.name: p for p in (tmp_path / "figs").glob("*.png")}
    assert set(files) == {f"s-s4-{k}.png" for k in (*CSI_KINDS, "rgb", "lidar", "radar")}
    assert all(not_blank(p) for p in files.values()), [p for p in files.values() if not not_blank(p)]
    assert res.output.count("wrote ") == 7


def test_sensing_only_shard_plots_only_sensing(tmp_path):
    url = str(tmp_path / "cam.zarr")
    write_synthetic(url, num_samples=4, block_size=2, modalities=("rgb",))
    res = runner.invoke(app, ["plot", url, "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert [p.name for p in tmp_path.glob("*.png")] == ["cam-s0-rgb.png"]


def test_pdp_and_doppler_peak_where_the_channel_puts_them():
    """One path of delay 8 taps and Doppler 125 Hz: the figures' curves peak there."""
    t_n, k_n, df, dt = 16, 32, 30e3, 1e-3
    t, k = np.arange(t_n)[:, None], np.arange(k_n)[None, :]
    h = np.exp(-2j * np.pi * k * 8 / k_n) * np.exp(2j * np.pi * 125.0 * t * dt)
    data = {"csi": h[:, :, None, None].astype(np.complex64), "ue_vel": np.float32([1, 0, 0])}
    coords = {"time": t[:, 0] * dt, "subcarrier": (k[0] - k_n // 2) * df}
    figs = csi_figures(data, coords, {"carrier_frequency_hz": 3.5e9, "subcarrier_spacing_hz": df}, "x")
    delay, pdp = figs["pdp"].axes[0].lines[0].get_data()
    assert delay[np.argmax(pdp)] == pytest.approx(8 / (k_n * df) * 1e9)
    freq, spec = figs["doppler"].axes[0].lines[0].get_data()
    assert freq[np.argmax(spec)] == pytest.approx(125.0, abs=1 / (64 * dt))
    import matplotlib.pyplot as plt

    plt.close("all")


def test_bad_inputs(tmp_path):
    url = str(tmp_path / "s.zarr")
    write_synthetic(url, num_samples=4, block_size=2)
    zarr.open_group(str(tmp_path / "foreign.zarr"), mode="w")
    cases = [
        ([url, "--sample", "4"], "samples 0..3"),
        ([url, "--sample", "-1"], "samples 0..3"),
        ([str(tmp_path / "foreign.zarr")], "not a wirelessdata shard"),
        ([str(tmp_path / "nope.zarr")], "no shard there"),
    ]
    for args, message in cases:
        res = runner.invoke(app, ["plot", *args, "--out", str(tmp_path / "f")])
        assert isinstance(res.exception, WirelessDataError), res.output
        assert message in str(res.exception) and "\n" not in str(res.exception)
