"""The folder an export writes: refused when it holds anything but an earlier export, which ``--overwrite`` replaces.

An export first writes ``export.json`` with ``status: incomplete`` and the files it will write, and ends by
rewriting it (``status: complete``, what each file holds, from what, how) next to its ``README.md``. The
marker is what lets ``--overwrite`` remove exactly the files of an earlier (or interrupted) export and nothing
else. Files are written under a temporary name (``*.partial``) and renamed into place when complete.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from pathlib import Path
from typing import Any

from wirelessdata import __version__
from wirelessdata.errors import StoreError

MARKER = "export.json"
README = "README.md"


def prepare_out(out: str | Path, overwrite: bool) -> Path:
    """Create ``out``, or clear an earlier export there when ``overwrite``.

    A folder holding anything other than an earlier wirelessdata export is refused either way, so a wrong
    ``--out`` never deletes a user's files.
    """
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise StoreError(f"--out {p}: exists and is a file; give a folder")
    if p.is_dir() and any(p.iterdir()):
        marker = p / MARKER
        if not marker.is_file():
            raise StoreError(f"--out {p}: not empty and holds no wirelessdata export; give a new or empty folder")
        if not overwrite:
            raise StoreError(f"--out {p}: holds an earlier export; pass --overwrite to replace it, or another --out")
        try:
            previous = json.loads(marker.read_text())
            names = [*previous.get("files", {}), README, MARKER]
        except (ValueError, AttributeError) as exc:
            raise StoreError(f"--out {p}: {MARKER} is unreadable ({exc}); remove the folder by hand") from exc
        for target in [q for name in names for q in (p / name, temporary(p / name))]:
            if target.is_dir():
                for child in sorted(target.rglob("*"), reverse=True):
                    child.rmdir() if child.is_dir() else child.unlink()
                target.rmdir()
            elif target.exists():
                target.unlink()
    p.mkdir(parents=True, exist_ok=True)
    return p


def temporary(path: Path) -> Path:
    """Where ``path`` is written before it is complete."""
    return path.with_name(path.name + ".partial")


def begin(out: Path, fmt: str, names: list[str]) -> None:
    """Mark ``out`` as an export in progress that will write ``names`` (files or folders, relative to ``out``)."""
    _marker(out, {"format": fmt, "status": "incomplete", "files": {n: {} for n in names}})


def finish(out: Path, fmt: str, files: dict[str, dict[str, Any]], readme: str, **info: Any) -> Path:
    """Write ``README.md`` and the complete ``export.json`` marker; returns the marker's path.

    :param files: per written file (relative to ``out``) what it holds: key, shape, dtype, samples, ...
    :param info: further JSON-able facts (normalisation, split rule, shards).
    """
    (out / README).write_text(readme)
    return _marker(out, {"format": fmt, "status": "complete", "files": files, **info})


def _marker(out: Path, doc: dict[str, Any]) -> Path:
    doc = {
        "format": doc.pop("format"),
        "wirelessdata_version": __version__,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        **doc,
    }
    (out / MARKER).write_text(dumps(doc))
    return out / MARKER


_NUMBER_LIST = re.compile(r"\[\n\s*((?:[-\d.eE+]+,\n\s*)*[-\d.eE+]+)\n\s*\]")


def dumps(doc: Any) -> str:
    """Indented JSON with lists of numbers (shapes, sample indices) kept on one line."""
    text = json.dumps(doc, indent=1, default=str)
    return _NUMBER_LIST.sub(lambda m: "[" + re.sub(r",\n\s*", ", ", m.group(1)) + "]", text) + "\n"
