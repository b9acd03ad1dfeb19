"""The shard format: one Zarr v3 group per shard under ``schemas/csi-v1.json``.

``schema`` (the schema file), ``store`` (create, region writes, commit), ``read`` (random access), ``validate``,
``stats`` (measured distributions), ``lock`` (one writer per shard), ``info`` (one :class:`ShardInfo`) and
``url`` (local path or fsspec URL). Everything else in the package builds on this room; it imports none of them.
"""
