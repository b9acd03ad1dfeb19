"""The one writer: every shard a source makes (a generator's bands, an importer's folder) goes through it.

The lifecycle: lock the shards (a second writer gets a one-line "locked by" error), create them or reopen them
for a resume, write each pending block into its own regions (a block runner decides where and how: in this
process, on Dask workers, with a read-ahead thread), read every block once to check it and measure the shard's
statistics, commit with those statistics and the checksum, register in the catalog of the dataset root, check the
rest of the shard (its documents, coordinates and commit) without reading its blocks again. A block that is already
written is never rewritten; a rerun of the same command resumes at the first unwritten block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wirelessdata.catalog import register_shard
from wirelessdata.errors import WirelessDataError
from wirelessdata.shard.layout import ShardLayout
from wirelessdata.shard.lock import shard_locks
from wirelessdata.shard.store import STATUS_COMPLETE, Shard, create_shard
from wirelessdata.shard.validate import ShardReport, validate_shard


class BlockError(WirelessDataError):
    """A block failed on every attempt (an error in its task, or its workers dying); the other blocks were written."""


@dataclass(frozen=True)
class Target:
    """One shard to write: where it goes and its layout."""

    url: str
    layout: ShardLayout


@dataclass(frozen=True)
class ShardResult:
    """What a write did to one shard.

    :param key: the shard's key among the source's shards (a band for generators, ``shard`` for an import).
    """

    url: str
    key: str
    num_samples: int
    blocks_written: int
    blocks_skipped: int
    checksum: str
    """The shard checksum; empty when the shard was left uncommitted (a block did not read: see ``report``)."""
    report: ShardReport

    @property
    def band(self) -> str:
        """The key of a generator's shard: its band label."""
        return self.key


Pending = Mapping[int, tuple[str, ...]]
"""Block index -> keys of the shards that lack it."""

BlockRunner = Callable[[Pending], Iterator[tuple[int, BaseException | None]]]
"""Writes the pending blocks into their shards; yields ``(block, None)`` as each is written and ``(block, error)``
when one failed for good (the others go on). An error that concerns every block (disk full, a
:class:`~wirelessdata.errors.WirelessDataError`) is raised instead, which stops the write at once."""

Mapper = Callable[[Callable[[str], Any], Sequence[str]], list[Any]]
"""``mapper(fn, urls) -> [fn(u) for u in urls]``, possibly in parallel (statistics and validation passes)."""


def write_shards(
    root: str,
    targets: Mapping[str, Target],
    run_blocks: BlockRunner,
    overwrite: bool = False,
    on_block: Callable[[int], None] | None = None,
    mapper: Mapper | None = None,
    attempts: int = 1,
) -> list[ShardResult]:
    """Write, commit, register and validate the shards of ``targets`` (keyed, e.g. by band), sharing blocks.

    :param root: the dataset root (a path or a URL); its catalog registers the shards.
    :param run_blocks: writes the pending blocks (:data:`BlockRunner`).
    :param overwrite: replace shards that exist with another recipe (otherwise that is an error).
    :param on_block: called with each block once it is in every shard, also for blocks done by an earlier run.
    :param mapper: runs the statistics and validation passes (default: in turn, here).
    :param attempts: how often a failed block was tried, for the error message.
    :raises BlockError: some blocks failed; the others are written and a rerun resumes.
    """
    mapper = mapper or (lambda fn, urls: [fn(u) for u in urls])
    with shard_locks([t.url for t in targets.values()]):
        shards: dict[str, Shard] = {
            key: create_shard(t.url, t.layout, overwrite=overwrite) for key, t in targets.items()
        }
        num_blocks = max(t.layout.num_blocks for t in targets.values())
        todo = {key: set(shard.pending_blocks()) for key, shard in shards.items()}
        blocks = {b: tuple(key for key in shards if b in todo[key]) for b in range(num_blocks)}
        for block, keys in blocks.items():
            if not keys and on_block is not None:
                on_block(block)
        pending = {b: keys for b, keys in blocks.items() if keys}
        written = dict.fromkeys(shards, 0)
        failed: list[tuple[int, BaseException]] = []
        for block, error in run_blocks(pending):
            if error is not None:
                failed.append((block, error))
                continue
            for key in pending[block]:
                written[key] += 1
            if on_block is not None:
                on_block(block)
        if failed:
            raise _block_error(targets, pending, failed, attempts)
        # a new shard is read once: its blocks checked and measured before the commit, the rest checked after it
        new = [key for key, shard in shards.items() if shard.status != STATUS_COMPLETE]
        kept = [key for key in shards if key not in new]
        read = dict(zip(new, mapper(measure_blocks, [targets[k].url for k in new]), strict=True))
        checksums = {}
        for key, shard in shards.items():
            if key not in read:
                checksums[key] = str(shard.group.attrs["checksum"])
            elif read[key].stats is not None:  # None: a block did not read; left uncommitted, the report says why
                checksums[key] = shard.commit(read[key].stats)
            register_shard(root, targets[key].url)  # a remote root's catalog is ROOT/catalog.sqlite too
        reports = dict(zip(new, mapper(check_commit, [targets[k].url for k in new]), strict=True))
        reports = {k: _joined(read[k], r) for k, r in reports.items()}
        reports.update(zip(kept, mapper(validate_shard, [targets[k].url for k in kept]), strict=True))
    return [
        ShardResult(
            url=targets[key].url,
            key=key,
            num_samples=shard.num_samples,
            blocks_written=written[key],
            blocks_skipped=targets[key].layout.num_blocks - written[key],
            checksum=checksums.get(key, ""),
            report=reports[key],
        )
        for key, shard in shards.items()
    ]


def measure_blocks(url: str) -> ShardReport:
    """The pass over the blocks of the written, uncommitted shard at ``url``: the checks that read them, and the
    statistics the commit records (:attr:`ShardReport.stats`)."""
    return validate_shard(url, metadata=False, measure=True)


def check_commit(url: str) -> ShardReport:
    """The checks of the committed shard at ``url`` that do not read its blocks (documents, structure, coordinates,
    status, checksum): the rest of its validation after :func:`measure_blocks`."""
    return validate_shard(url, data=False)


def _joined(before: ShardReport, after: ShardReport) -> ShardReport:
    """The validation of a new shard from its two passes: the findings of both, each once."""
    extra = [f for f in before.findings if f not in after.findings]
    return ShardReport(after.shard, after.num_samples, after.status, after.findings + extra)


def _block_error(
    targets: Mapping[str, Target], pending: Pending, failed: list[tuple[int, BaseException]], attempts: int
) -> BlockError:
    """One line naming the first failed block, its shards and its error, and how many others failed."""
    block, error = min(failed, key=lambda f: f[0])
    shards = ", ".join(targets[key].url for key in pending[block])
    others = f"; {len(failed) - 1} other blocks failed too" if len(failed) > 1 else ""
    tries = "once" if attempts == 1 else f"{attempts} times"
    return BlockError(
        f"block {block} of {shards} failed {tries} ({_describe(error)}){others}; the other blocks are written, "
        "fix the cause and rerun the same command to resume"
    )


def _describe(error: BaseException) -> str:
    """``Type: first line of the message``; a lost worker in words."""
    name = type(error).__name__
    if name == "KilledWorker":
        return "KilledWorker: the workers running it died (out of memory, a crash or a kill; see the worker logs)"
    lines = str(error).strip().splitlines()
    return f"{name}: {lines[0]}" if lines else name
