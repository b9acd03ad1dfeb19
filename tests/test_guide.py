"""docs/guide.md: every `wirelessdata` command of its bash blocks runs, in order, on a fresh folder (slow)."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
GUIDE = REPO / "docs" / "guide.md"


def guide_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", GUIDE.read_text(), flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.startswith("wirelessdata ")]


def test_the_guide_has_the_walk_in_order():
    verbs = [shlex.split(c)[1] for c in guide_commands()]
    order = ["generate", "validate", "catalog", "curate", "mix", "train", "evaluate", "probe", "export", "card"]
    assert set(order) <= set(verbs)
    first = sorted(order, key=verbs.index)  # by first appearance
    assert first == order


@pytest.mark.slow
def test_the_guide_commands_run(tmp_path):
    exe = Path(sys.executable).parent / "wirelessdata"
    env = {**os.environ, "COLUMNS": "120"}
    for command in guide_commands():
        args = [str(REPO / a) if a.startswith(("generators/", "catalog/")) else a for a in shlex.split(command)[1:]]
        res = subprocess.run([str(exe), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, f"{command}\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}"
    assert (tmp_path / "guide-wifo" / "X_train.mat").is_file() and (tmp_path / "guide-out" / "croissant.json").is_file()
    assert (tmp_path / "guide-eval.png").stat().st_size > 10_000


@pytest.mark.slow
def test_the_guide_runs_on_an_s3_root(tmp_path, s3_root):
    """The same walk with the dataset root (and the manifest in it) in an object store (a local S3 server); the
    training runs, plots and exports stay in local folders. Nothing lands in a local folder named ``s3:``."""
    exe = Path(sys.executable).parent / "wirelessdata"
    env = {**os.environ, "COLUMNS": "120"}
    for command in guide_commands():
        args = [
            str(REPO / a) if a.startswith(("generators/", "catalog/")) else a.replace("guide-out", s3_root)
            for a in shlex.split(command)[1:]
        ]
        res = subprocess.run([str(exe), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, f"{command}\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}"
    assert (tmp_path / "guide-wifo" / "X_train.mat").is_file() and (tmp_path / "guide-eval.png").is_file()
    assert not (tmp_path / "s3:").exists()
