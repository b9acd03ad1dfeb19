"""The common shard schema, read from the language-neutral file ``schemas/csi-v1.json``.

The JSON file is the one source of truth: the store builds shards from it, ``validate`` checks
against it and ``docs/schema.md`` is rendered from it (:func:`render_markdown`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from wirelessdata.errors import WirelessDataError

SCHEMA_FILE = "csi-v1.json"


def schema_dir() -> Path:
    """Folder holding the schema files: inside the installed package, or ``schemas/`` of a source checkout."""
    here = Path(__file__).resolve().parents[1]  # the package folder
    for candidate in (here / "schemas", here.parent / "schemas"):
        if (candidate / SCHEMA_FILE).is_file():
            return candidate
    raise WirelessDataError(f"schema file {SCHEMA_FILE} not found next to {here}; reinstall wirelessdata")


@dataclass(frozen=True)
class VariableSpec:
    """One variable of the schema: name, dims, dtype and CF attributes, plus the rules validate applies."""

    name: str
    modality: str
    required: bool
    dims: tuple[str, ...]
    dtype: np.dtype
    units: str
    long_name: str
    coordinate: bool = False
    unique: bool = False
    monotonic: bool = False
    finite: bool = False
    timestamp: bool = False
    bookkeeping: bool = False
    mutable: bool = False
    compressor: str | None = None
    fill_value: Any = None

    @property
    def per_sample(self) -> bool:
        """True when the first dimension is ``sample``."""
        return bool(self.dims) and self.dims[0] == "sample"

    def default_fill(self) -> Any:
        """Fill value of the Zarr array: the schema's, else NaN for floats, 0 for the rest."""
        if self.fill_value is not None:
            return self.fill_value
        if self.dtype.kind in "fc":
            return np.nan
        return 0


@dataclass(frozen=True)
class Schema:
    """The parsed schema: variables, group attributes, modalities and quality-flag bits."""

    name: str
    version: str
    dims: dict[str, str]
    modalities: dict[str, str]
    variables: dict[str, VariableSpec]
    attrs: dict[str, dict[str, Any]]
    quality_flags: dict[str, dict[str, Any]]
    defaults: dict[str, Any]

    @property
    def major(self) -> int:
        """Major version; a shard with a higher major version cannot be read by this schema."""
        return int(self.version.split(".")[0])

    def variables_of(self, modalities: list[str] | tuple[str, ...]) -> list[VariableSpec]:
        """All variables of the named modalities (``core`` always included), in schema order."""
        wanted = {"core", *modalities}
        return [v for v in self.variables.values() if v.modality in wanted]

    def required_variables(self, modalities: list[str] | tuple[str, ...]) -> list[VariableSpec]:
        """The variables a shard declaring ``modalities`` must hold."""
        return [v for v in self.variables_of(modalities) if v.required]

    def flag_bit(self, name: str) -> int:
        """Bit mask of the quality flag ``name``."""
        if name not in self.quality_flags:
            raise WirelessDataError(f"quality flag '{name}' is unknown; choose one of {', '.join(self.quality_flags)}")
        return 1 << int(self.quality_flags[name]["bit"])


def _variable(name: str, spec: dict[str, Any]) -> VariableSpec:
    return VariableSpec(
        name=name,
        modality=spec["modality"],
        required=bool(spec["required"]),
        dims=tuple(spec["dims"]),
        dtype=np.dtype(spec["dtype"]),
        units=spec["units"],
        long_name=spec["long_name"],
        coordinate=bool(spec.get("coordinate", False)),
        unique=bool(spec.get("unique", False)),
        monotonic=bool(spec.get("monotonic", False)),
        finite=bool(spec.get("finite", False)),
        timestamp=bool(spec.get("timestamp", False)),
        bookkeeping=bool(spec.get("bookkeeping", False)),
        mutable=bool(spec.get("mutable", False)),
        compressor=spec.get("compressor"),
        fill_value=spec.get("fill_value"),
    )


@cache
def load_schema(filename: str = SCHEMA_FILE) -> Schema:
    """Parse a schema file of :func:`schema_dir` (cached)."""
    raw = json.loads((schema_dir() / filename).read_text())
    return Schema(
        name=raw["schema"],
        version=raw["version"],
        dims=raw["dims"],
        modalities=raw["modalities"],
        variables={k: _variable(k, v) for k, v in raw["variables"].items()},
        attrs=raw["attrs"],
        quality_flags=raw["quality_flags"],
        defaults=raw["defaults"],
    )


def render_markdown(schema: Schema | None = None) -> str:
    """The schema reference page (``docs/schema.md``), rendered from the schema file."""
    s = schema or load_schema()
    lines = [
        f"# Schema reference: `{s.name}` v{s.version}",
        "",
        f"Generated from `schemas/{SCHEMA_FILE}` by `wirelessdata schema --markdown`; do not edit by hand.",
        "",
        "One dataset shard is one Zarr v3 group; it opens with `xarray.open_zarr(path)` and no project code.",
        "Every variable carries CF-style `units` and `long_name` attributes. A *mutable* variable (curation flags)"
        " may be rewritten after commit and is left out of the block checksums; every other byte is covered.",
        "",
        "## Dimensions",
        "",
        "| dim | meaning |",
        "|---|---|",
        *[f"| `{d}` | {m} |" for d, m in s.dims.items()],
        "",
        "## Modalities",
        "",
        "A shard lists its modalities in the group attribute `modalities`; the required variables of each"
        " declared modality must be present. `core` is always required.",
        "",
        "| modality | meaning |",
        "|---|---|",
        *[f"| `{m}` | {d} |" for m, d in s.modalities.items()],
        "",
        "## Variables",
        "",
        "| variable | modality | required | dims | dtype | units | meaning |",
        "|---|---|---|---|---|---|---|",
    ]
    for v in s.variables.values():
        rules = [r for r in ("coordinate", "unique", "monotonic", "finite", "timestamp", "mutable") if getattr(v, r)]
        meaning = v.long_name + (f" ({', '.join(rules)})" if rules else "")
        lines.append(
            f"| `{v.name}` | {v.modality} | {'yes' if v.required else 'no'} | ({', '.join(v.dims)}) "
            f"| {v.dtype.name} | {v.units} | {meaning} |"
        )
    lines += [
        "",
        "## Group attributes",
        "",
        "| attribute | type | required | meaning |",
        "|---|---|---|---|",
        *[
            f"| `{k}` | {a['type']} | {'yes' if a['required'] else 'no'} | {a['description']} |"
            for k, a in s.attrs.items()
        ],
        "",
        "## Quality flags (`quality_flags` bits)",
        "",
        "| bit | flag | meaning |",
        "|---|---|---|",
        *[f"| {f['bit']} | `{k}` | {f['description']} |" for k, f in s.quality_flags.items()],
        "",
        "## Defaults",
        "",
        *[f"- `{k}` = {v}" for k, v in s.defaults.items()],
        "",
    ]
    return "\n".join(lines)
