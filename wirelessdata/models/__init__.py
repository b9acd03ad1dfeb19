"""Reference wireless foundation model: WiFo-style masked autoencoder, training, zero-shot evaluation, baselines.

Needs PyTorch (extra ``train``). See docs/model.md. The classical predictors and the prediction tasks they serve
are :mod:`wirelessdata.tasks`' (``tasks.extrapolation``, ``tasks.wiener``).
"""

from wirelessdata.models.baselines import BASELINES
from wirelessdata.models.checkpoint import Checkpoint, load_checkpoint, update_model_card
from wirelessdata.models.config import TrainConfig
from wirelessdata.models.evaluate import evaluate, model_predictor, prediction_task, reconstruction_losses
from wirelessdata.models.finetune import Tuned, TuneSettings, tune
from wirelessdata.models.masking import MASK_KINDS, TokenMask, make_mask
from wirelessdata.models.train import StepInfo, TrainResult, train
from wirelessdata.models.wifo import MODEL_SIZES, ModelConfig, WiFo, csi_to_input, normalise

__all__ = [
    "BASELINES",
    "MASK_KINDS",
    "MODEL_SIZES",
    "Checkpoint",
    "ModelConfig",
    "StepInfo",
    "TokenMask",
    "TrainConfig",
    "TrainResult",
    "TuneSettings",
    "Tuned",
    "WiFo",
    "csi_to_input",
    "evaluate",
    "load_checkpoint",
    "make_mask",
    "model_predictor",
    "normalise",
    "prediction_task",
    "reconstruction_losses",
    "train",
    "tune",
    "update_model_card",
]
