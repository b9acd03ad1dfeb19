"""Channel prediction along one axis: time-domain (history -> horizon) and frequency-domain (known -> target band).

- ``time-prediction``: input the observed snapshots ``0 .. history-1`` ``[B, history, K, Nbs, Nue]``; target the
  clean snapshots ``history .. history+horizon-1`` ``[B, horizon, K, Nbs, Nue]``.
- ``frequency-prediction``: input the observed subcarriers ``0 .. known-1`` ``[B, T, known, Nbs, Nue]``; target the
  clean subcarriers ``known .. known+target-1`` ``[B, T, target, Nbs, Nue]`` (extrapolation to the band above).

Metric NMSE (dB) over the target part (:func:`wirelessdata.tasks.metrics.nmse`). Baselines: the zero-order hold
and the AR (linear-prediction) extrapolators, fixed order (``ar``) and order chosen per sample (``ar-auto``), of
:mod:`wirelessdata.tasks.extrapolation`, and the Wiener / LMMSE predictor fitted on the training split
(``wiener``, :mod:`wirelessdata.tasks.wiener`), run in the model layout by :class:`AxisPredictor` (which
``wirelessdata evaluate`` also uses for the WiFo model).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from torch import Tensor

from wirelessdata.tasks.base import Baseline, NmseTask, Param, TaskBatch, need, positive
from wirelessdata.tasks.extrapolation import ARPredictor, Predictor, zoh_predict
from wirelessdata.tasks.impairments import Region
from wirelessdata.tasks.layout import given_input, input_to_csi
from wirelessdata.tasks.source import ShardSamples
from wirelessdata.tasks.wiener import WienerPredictor

if TYPE_CHECKING:
    from wirelessdata.tasks.view import TaskView


class AxisPredictor(Baseline):
    """A predictor of the model layout (``zoh``, ``ar``, a WiFo model: ``extrapolation.Predictor``) on a view.

    The given part ``inp`` is zero-padded to the full length along the task axis, normalised per sample by its
    RMS amplitude (``tasks.layout.given_input``), predicted, and the unknown part scaled back.
    """

    def __init__(self, predictor: Predictor, task: str) -> None:
        self.predictor, self.task = predictor, task

    def predict(self, inp: Tensor, meta: Any) -> Tensor:
        axis = 1 if self.task == "time" else 2  # in the CSI layout
        n_known, n_unknown = inp.shape[axis], meta.target_shape[axis]
        x, scale = given_input(inp, n_unknown, axis)
        out = self.predictor(x, self.task, n_known) * scale
        pred = input_to_csi(out, inp.shape[3], inp.shape[4])
        return pred.narrow(axis, n_known, n_unknown)


class WienerBaseline(AxisPredictor):
    """``wiener``: a :class:`~wirelessdata.tasks.wiener.WienerPredictor` fitted on the training view, then run as
    an :class:`AxisPredictor`."""

    needs_fit: ClassVar[bool] = True

    def __init__(self, task: str, ridge: float = 1e-6) -> None:
        self.wiener = WienerPredictor(ridge=ridge)
        super().__init__(self.wiener, task)

    def fit(self, view: TaskView) -> None:
        self.wiener.fit_view(view)


class _AxisPrediction(NmseTask):
    metric_desc = "NMSE (dB) = 10 log10 of the mean over samples of ||H_pred - H||^2 / ||H||^2 on the target part"
    baseline_desc = (
        "zoh (repeat the last given slice), ar (order-4 linear prediction), ar-auto (order 1-8 chosen per sample "
        "on the given part), wiener (linear MMSE of the unknown from the given entries, fitted on the train split)"
    )
    axis: ClassVar[int]
    model_task: ClassVar[str]
    known_key: ClassVar[str]
    target_key: ClassVar[str]

    def check(self, shard: ShardSamples) -> None:
        total = self.values[self.known_key] + self.values[self.target_key]
        need(shard, self.axis, total, f"{self.name} with {self.known_key} + {self.target_key}", "lower them")

    def region(self, shard: ShardSamples) -> Region:
        given = slice(0, self.values[self.known_key])
        return (given, slice(None)) if self.axis == 0 else (slice(None), given)

    def make(self, batch: TaskBatch) -> tuple[Tensor, Tensor]:
        k, h = self.values[self.known_key], self.values[self.target_key]
        return batch.observed, batch.csi.narrow(self.axis + 1, k, h)

    def baselines(self) -> dict[str, Baseline]:
        return {
            "zoh": AxisPredictor(zoh_predict, self.model_task),
            "ar": AxisPredictor(ARPredictor(order=4), self.model_task),
            "ar-auto": AxisPredictor(ARPredictor(order="auto", max_order=8), self.model_task),
            "wiener": WienerBaseline(self.model_task),
        }


class TimePrediction(_AxisPrediction):
    name = "time-prediction"
    rank = 0
    summary = "predict the next snapshots from the past ones"
    input_desc = "observed CSI of snapshots [0, history): complex64 [B, history, K, Nbs, Nue]"
    target_desc = "clean CSI of snapshots [history, history + horizon): complex64 [B, horizon, K, Nbs, Nue]"
    params: ClassVar[dict[str, Param]] = {
        "history": Param(12, "given snapshots (a positive integer)", positive),
        "horizon": Param(12, "predicted snapshots (a positive integer)", positive),
    }
    axis, model_task, known_key, target_key = 0, "time", "history", "horizon"


class FrequencyPrediction(_AxisPrediction):
    name = "frequency-prediction"
    rank = 1
    summary = "extrapolate the channel from a known band to the band above"
    input_desc = "observed CSI of subcarriers [0, known): complex64 [B, T, known, Nbs, Nue]"
    target_desc = "clean CSI of subcarriers [known, known + target): complex64 [B, T, target, Nbs, Nue]"
    params: ClassVar[dict[str, Param]] = {
        "known": Param(32, "given (lowest) subcarriers (a positive integer)", positive),
        "target": Param(32, "predicted subcarriers just above them (a positive integer)", positive),
    }
    axis, model_task, known_key, target_key = 1, "frequency", "known", "target"
