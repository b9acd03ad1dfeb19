"""The options of a DeepSense import (:class:`DeepSenseOptions`, all part of the recipe) and their checks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wirelessdata.importers.common import SourceError


@dataclass(frozen=True)
class DeepSenseOptions:
    """Choices of a DeepSense import (all part of the recipe).

    :param rgb_size: ``(width, height)`` to resize every image to (JPEG draft decoding, then bilinear);
        None keeps the native size, and rows whose image size differs from the scenario's are skipped.
    :param date: ``YYYY-MM-DD`` of the recording, for timestamps that carry none.
    :param timezone: IANA zone (``UTC``, ``America/Phoenix``) of timestamps whose column names none.
    :param block_size: rows per block.
    """

    rgb_size: tuple[int, int] | None = None
    date: str | None = None
    timezone: str | None = None
    block_size: int = 32

    def check(self) -> None:
        """:class:`~wirelessdata.importers.common.SourceError` naming the first invalid option."""
        if self.rgb_size is not None and min(self.rgb_size) < 1:
            raise SourceError(f"--rgb-size {self.rgb_size}: width and height must be >= 1")
        if self.block_size < 1:
            raise SourceError(f"--block-size {self.block_size}: must be >= 1")
        if self.date is not None:
            try:
                dt.date.fromisoformat(self.date)
            except ValueError as exc:
                raise SourceError(f"--date {self.date!r}: want YYYY-MM-DD") from exc
        if self.timezone is not None:
            time_zone(self.timezone)


def time_zone(name: str) -> dt.tzinfo:
    """The IANA time zone ``name``; :class:`~wirelessdata.importers.common.SourceError` when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SourceError(f"--timezone {name!r}: not an IANA time zone, e.g. UTC or America/Phoenix") from exc
