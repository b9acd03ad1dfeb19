"""The generate pipeline: recipe -> plan (shards x blocks) -> run (serial or Dask) through the one writer.

``recipe`` parses ``generators/*.toml`` and CLI flags into drop sets, ``plan`` resolves them into shard layouts,
blocks, seeds and sample ids, ``planting`` adds the benchmark's planted duplicates, ``run`` executes the blocks.
"""
