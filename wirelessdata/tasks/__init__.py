"""Task views: the downstream tasks of wireless foundation models as reproducible views over shards.

``wirelessdata.tasks.get("channel-estimation", "wirelessdata-out", pilots="4x12", snr_db=10)`` is a PyTorch
iterable of ``(input, target)`` batches, deterministic for a seed, with impairments applied per sample
(:mod:`wirelessdata.tasks.impairments`) and its definition in ``view.definition()``. Reference: docs/tasks.md.
"""

from wirelessdata.lazy import lazy_getattr

_API = {
    "TASKS": "registry",
    "get": "registry",
    "task_class": "registry",
    "Task": "base",
    "TaskView": "view",
    "Impairments": "impairments",
    "score": "evaluation",
    "score_many": "evaluation",
    "run_baselines": "evaluation",
}

__getattr__ = lazy_getattr(__name__, _API)
__all__ = sorted(_API)
