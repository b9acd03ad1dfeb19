"""What every source of shards shares: the contract (:mod:`~wirelessdata.source.contract`: generators and
importers as plug-ins) and the one writer (:mod:`~wirelessdata.source.writer`) that runs the shard lifecycle
for both. The sources themselves live in ``wirelessdata.generators`` and ``wirelessdata.importers``."""
