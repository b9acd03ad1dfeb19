"""Reference wireless foundation model: WiFo-style masked autoencoder, training, zero-shot evaluation, baselines.

Needs PyTorch (extra ``train``). See docs/model.md.
"""

from wirelessdata.models.baselines import BASELINES, ARPredictor, ar_extrapolate, train_full_shot, zoh_predict
from wirelessdata.models.evaluate import TASKS, Predictor, evaluate, evaluate_shard, model_predictor
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
    "WiFo",
    "ar_extrapolate",
    "csi_to_input",
    "evaluate",
    "evaluate_shard",
    "load_checkpoint",
    "make_mask",
    "model_predictor",
    "normalise",
    "train",
    "train_full_shot",
    "update_model_card",
    "zoh_predict",
]
