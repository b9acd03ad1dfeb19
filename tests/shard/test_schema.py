from pathlib import Path

import numpy as np

from wirelessdata.shard.schema import load_schema, render_markdown


def test_schema_is_self_consistent():
    s = load_schema()
    assert s.name == "wirelessdata.csi" and s.major == 1
    for v in s.variables.values():
        assert set(v.dims) <= set(s.dims), v.name
        assert v.modality in s.modalities, v.name
        assert v.units and v.long_name, v.name
    bits = [f["bit"] for f in s.quality_flags.values()]
    assert len(bits) == len(set(bits)) and max(bits) < 32


def test_required_names_users_rely_on():
    s = load_schema()
    csi = s.variables["csi"]
    assert csi.dims == ("sample", "time", "subcarrier", "bs_ant", "ue_ant") and csi.dtype == np.complex64
    need = {
        "csi",
        "time",
        "subcarrier",
        "sample_id",
        "ue_pos",
        "ue_vel",
        "bs_pos",
        "los",
        "path_gain_db",
        "bs_ant_pos",
        "ue_ant_pos",
    }
    assert need <= {v.name for v in s.required_variables(["csi"])}
    assert not any(v.modality == "csi" for v in s.required_variables(["beam", "rgb"]))


def test_docs_schema_page_is_generated_from_the_file():
    page = Path(__file__).resolve().parents[2] / "docs" / "schema.md"
    assert page.read_text() == render_markdown(), "run: wirelessdata schema --markdown -o docs/schema.md"
