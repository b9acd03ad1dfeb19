"""``--where`` filters: ``FIELD OP VALUE`` expressions turned into a parameterised SQL condition.

``OP`` is one of ``= != < <= > >=``. Text fields take ``=`` and ``!=`` only, compare case-insensitively
and accept a comma list (``band=sub6,28GHz``); numeric fields take any operator and a number
(``delay_spread_p50>3e-7``). ``has=MODALITY`` keeps shards holding that modality, ``tag=LABEL`` shards
whose recipe entry carries that label. Several filters are ANDed. Field names are checked against
:data:`~wirelessdata.catalog.fields.FILTERABLE`, so only known column names ever reach SQL.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Sequence
from typing import Any

from wirelessdata.catalog.db import CatalogError
from wirelessdata.catalog.fields import CONFIG_FIELDS, FILTERABLE, HAS, RENAMED, TAG
from wirelessdata.shard.stats import METRICS, SUMMARY_STATS

_EXPR = re.compile(r"^\s*([A-Za-z_]\w*)\s*(==|!=|<=|>=|=|<|>)\s*([^\s=<>!].*?)\s*$")
_ORDER = {"<", "<=", ">", ">="}


def where_sql(filters: Sequence[str]) -> tuple[str, list[Any]]:
    """The SQL condition (``""`` for none) and its parameters for ``filters``, ANDed."""
    clauses, params = [], []
    for expr in filters:
        clause, p = _clause(expr)
        clauses.append(clause)
        params += p
    return " AND ".join(clauses), params


def _clause(expr: str) -> tuple[str, list[Any]]:
    m = _EXPR.match(expr)
    if m is None:
        raise CatalogError(
            f"filter {expr!r} is malformed: write FIELD OP VALUE with OP one of = != < <= > >=, "
            "e.g. band=28GHz or 'delay_spread_p50>3e-7'"
        )
    name, op, value = m.groups()
    values = [v.strip() for v in value.split(",")] if op not in _ORDER else [value]
    if not all(values):
        raise CatalogError(f"filter {expr!r} has an empty value in its comma list")
    if name == HAS:
        return _has(expr, op, values)
    if name == TAG:
        if op in _ORDER:
            raise CatalogError(f"filter {expr!r}: write tag=LABEL (or tag!=LABEL), a comma list matches any")
        return _contains("tags", op, values)
    if name in RENAMED:
        warnings.warn(
            f"catalog field {name} is now called {RENAMED[name]}; write {RENAMED[name]} in filters",
            FutureWarning,
            stacklevel=3,
        )
        name = RENAMED[name]
    field = FILTERABLE.get(name)
    if field is None:
        raise CatalogError(_unknown(name))
    if field.numeric:
        nums = [_number(expr, v) for v in values]
        if op in _ORDER:
            return f"{name} {op} ?", nums
        return _membership(name, op, nums, "")
    if op in _ORDER:
        raise CatalogError(f"filter {expr!r}: {name} is text, use = or != (a comma list matches any)")
    return _membership(name, op, values, " COLLATE NOCASE")


def _membership(name: str, op: str, values: list[Any], collate: str) -> tuple[str, list[Any]]:
    """``name`` equal to one of ``values`` (``=``), or to none of them, NULL included (``!=``)."""
    marks = ", ".join("?" * len(values))
    if op == "!=":
        return f"({name} IS NULL OR {name}{collate} NOT IN ({marks}))", values
    return f"{name}{collate} IN ({marks})", values


def _has(expr: str, op: str, values: list[str]) -> tuple[str, list[Any]]:
    from wirelessdata.shard.schema import load_schema

    valid = list(load_schema().modalities)
    unknown = [v for v in values if v not in valid]
    if unknown or op in _ORDER:
        raise CatalogError(f"filter {expr!r}: write has=MODALITY (or has!=MODALITY) with one of {', '.join(valid)}")
    return _contains("modalities", op, values)


def _contains(column: str, op: str, values: list[str]) -> tuple[str, list[Any]]:
    """The comma-joined ``column`` holds one of ``values`` (``=``), or none of them (``!=``)."""
    test = "NOT LIKE" if op == "!=" else "LIKE"
    joiner = " AND " if op == "!=" else " OR "
    clause = joiner.join(f"(',' || COALESCE({column}, '') || ',') {test} ?" for _ in values)
    return f"({clause})", [f"%,{v},%" for v in values]


def _number(expr: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise CatalogError(f"filter {expr!r}: {value!r} is not a number") from None


def _unknown(name: str) -> str:
    close = difflib.get_close_matches(name, [HAS, TAG, *FILTERABLE], n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return (
        f"unknown filter field {name!r}{hint}; valid: {HAS}, {TAG}, {', '.join(f.name for f in CONFIG_FIELDS)}, "
        f"and METRIC_STAT with METRIC in {', '.join(m.name for m in METRICS)} and STAT in {', '.join(SUMMARY_STATS)}"
    )
