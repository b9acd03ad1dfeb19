"""What a bench compares: mixture specs and tracks (families of mixtures, ``catalog/bench/*.toml``).

A track file::

    track = "diversity"
    description = "1, 2, 4, 8 and 16 pretraining configurations, the same number of samples"
    heldout = "zero-shot"           # the held-out split every mixture must define, and the one scored
    evaluation = "prediction"       # or "beam" (sub-6 CSI -> 28 GHz best beam, frozen-encoder head)

    [common]                        # keys of a mixture spec (wirelessdata.mix.spec) shared by every mixture
    seed = 0
    holdout = [{ name = "zero-shot", where = ["tag=zero-shot"] }]

    [[mixtures]]                    # one mixture: a name and the rest of its spec (overrides common)
    name = "c01"
    sources = [{ name = "d09", where = ["recipe_name=wifo-d09"] }]

A plain mixture spec (``catalog/*.toml``) is a bench entry of its own, named after its file, scored by prediction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wirelessdata.errors import ConfigError
from wirelessdata.generate.recipe import SAFE_NAME
from wirelessdata.mix.spec import MixSpec, parse_spec
from wirelessdata.tomlfile import read_toml

EVALUATIONS = ("prediction", "beam")
TRACK_KEYS = ("track", "description", "heldout", "evaluation", "common", "mixtures")


@dataclass(frozen=True)
class Entry:
    """One mixture of a bench: ``track/name`` (or the spec file's stem) and its parsed spec."""

    name: str
    spec: MixSpec


@dataclass(frozen=True)
class BenchSpec:
    """The mixtures of a bench, the held-out split they share and how a run is scored."""

    entries: tuple[Entry, ...]
    heldout: str
    evaluation: str
    tracks: tuple[str, ...]


def _track(path: Path, raw: Mapping[str, Any]) -> tuple[str, list[Entry], str | None, str]:
    """A track file's name, entries, held-out split and evaluation."""
    if unknown := sorted(set(raw) - set(TRACK_KEYS)):
        raise ConfigError(f"track {path}: unknown key(s) {unknown}; valid keys: {list(TRACK_KEYS)}")
    track = str(raw.get("track") or path.stem)
    if not SAFE_NAME.fullmatch(track):
        raise ConfigError(f"track {path}: track {track!r} is not a name of letters, digits, '.', '_' and '-'")
    common, mixtures = raw.get("common", {}), raw.get("mixtures")
    if not isinstance(common, dict) or not isinstance(mixtures, list) or not mixtures:
        raise ConfigError(f"track {path}: give a [common] table and at least one [[mixtures]] entry")
    entries = []
    for i, mixture in enumerate(mixtures):
        if not isinstance(mixture, dict) or not SAFE_NAME.fullmatch(str(mixture.get("name", ""))):
            raise ConfigError(
                f"track {path}: mixtures[{i}] needs a name of letters, digits, '.', '_' and '-' (it names folders)"
            )
        own = {k: v for k, v in mixture.items() if k != "name"}
        try:
            spec = parse_spec({**common, **own})
        except ConfigError as exc:
            raise ConfigError(f"track {path}, mixture {mixture['name']!r}: {exc}") from None
        entries.append(Entry(f"{track}/{mixture['name']}", spec))
    return track, entries, raw.get("heldout"), str(raw.get("evaluation", "prediction"))


def load_bench(paths: Sequence[str | Path], heldout: str | None = None) -> BenchSpec:
    """Read track files and mixture specs into one bench; one-line errors naming the file and the fix.

    :param heldout: the held-out split scored (default: the tracks' ``heldout``, or a plain spec's only holdout).
    :raises ConfigError: unreadable files, duplicate mixture names, tracks that disagree on the held-out split or
        the evaluation, a mixture without that held-out split.
    """
    if not paths:
        raise ConfigError("bench: give at least one track (catalog/bench/*.toml) or mixture spec")
    entries: list[Entry] = []
    heldouts: dict[str, str] = {}
    evaluations: dict[str, str] = {}
    tracks: list[str] = []
    for path in map(Path, paths):
        raw = read_toml(path, "bench spec", "see catalog/bench/ for the built-in tracks", "track")
        if "mixtures" in raw:
            track, found, held, evaluation = _track(path, raw)
            tracks.append(track)
        else:
            try:
                spec = parse_spec(raw)
            except ConfigError as exc:
                raise ConfigError(f"mixture spec {path}: {exc}") from None
            found, evaluation = [Entry(path.stem, spec)], "prediction"
            held = spec.holdout[0][0] if len(spec.holdout) == 1 else None
        if evaluation not in EVALUATIONS:
            raise ConfigError(f"{path}: evaluation {evaluation!r} is not one of {', '.join(EVALUATIONS)}")
        evaluations[str(path)] = evaluation
        if held is not None:
            heldouts[str(path)] = str(held)
        entries += found
    names = [e.name for e in entries]
    if dupes := sorted({n for n in names if names.count(n) > 1}):
        raise ConfigError(f"bench: mixture name(s) {dupes} appear twice; give each spec file a distinct name")
    if len(set(evaluations.values())) > 1:
        raise ConfigError(f"bench: the specs are scored differently ({evaluations}); run one bench per evaluation")
    if heldout is None:
        if len(set(heldouts.values())) != 1:
            raise ConfigError(f"bench: name the held-out split with --heldout (the specs give {heldouts or 'none'})")
        heldout = next(iter(heldouts.values()))
    for entry in entries:
        if heldout not in dict(entry.spec.holdout):
            raise ConfigError(
                f"mixture {entry.name} has no [[holdout]] named {heldout!r}; every mixture of a bench must hold out "
                "the same split"
            )
    return BenchSpec(tuple(entries), heldout, next(iter(evaluations.values())), tuple(tracks))
