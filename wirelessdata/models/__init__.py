"""Reference wireless foundation model: WiFo-style masked autoencoder, training, zero-shot evaluation, baselines.

Needs PyTorch (extra ``train``). See docs/model.md.
"""

from wirelessdata.models.baselines import BASELINES
from wirelessdata.models.evaluate import evaluate, model_predictor, prediction_task, reconstruction_losses
from wirelessdata.models.finetune import Tuned, TuneSettings, tune
from wirelessdata.models.masking import MASK_KINDS, TokenMask, make_mask
from wirelessdata.models.train import (
    Checkpoint,
    StepInfo,
    TrainConfig,
    TrainResult,
    load_checkpoint,
    train,
    update_model_card,
)
from wirelessdata.models.wifo import MODEL_SIZES, ModelConfig, WiFo, csi_to_input, normalise
from wirelessdata.tasks.extrapolation import TASKS, ARPredictor, Predictor, ar_extrapolate, zoh_predict

__all__ = [
    "BASELINES",
    "MASK_KINDS",
    "MODEL_SIZES",
    "TASKS",
    "ARPredictor",
    "Checkpoint",
    "ModelConfig",
    "Predictor",
    "StepInfo",
    "TokenMask",
    "TrainConfig",
    "TrainResult",
    "TuneSettings",
    "Tuned",
    "WiFo",
    "ar_extrapolate",
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
    "zoh_predict",
]
