"""Baselines of ``wirelessdata evaluate``: the classical predictors (defined with the task views in
:mod:`wirelessdata.tasks.extrapolation` and :mod:`wirelessdata.tasks.wiener`). The models fitted on a target shard
(few-shot fine-tuning and the full-shot baseline) are in :mod:`wirelessdata.models.finetune`.
"""

from __future__ import annotations

from wirelessdata.tasks.extrapolation import ARPredictor, Predictor, zoh_predict

#: the classical baselines that need no fitting, run on every shard (the Wiener predictor is fitted per target
#: shard on its training split: ``tasks.wiener.fit_wiener``)
BASELINES: dict[str, Predictor] = {"zoh": zoh_predict, "ar": ARPredictor(), "ar-auto": ARPredictor("auto")}
