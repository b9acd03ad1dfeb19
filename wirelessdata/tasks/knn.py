"""k-nearest-neighbour baselines on standardised features: the CSI's angle-delay profiles
(:func:`wirelessdata.tasks.features.knn_features`) by default, or those a task gives (e.g. of sensor data)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import Tensor

from wirelessdata.errors import ConfigError
from wirelessdata.tasks.base import Baseline
from wirelessdata.tasks.features import knn_features


class FeatureKnn(Baseline):
    """Standardised features -> k-NN; ``classify``: class scores ``[B, C]`` (C = largest training label + 1),
    else the neighbours' mean target ``[B, ...]``. ``features`` maps a batch input to ``[B, F]`` float features."""

    needs_fit: ClassVar[bool] = True

    def __init__(
        self, classify: bool, neighbours: int = 5, features: Callable[[Any], np.ndarray] = knn_features
    ) -> None:
        self.classify, self.neighbours, self.features = classify, neighbours, features
        self.model: Any = None

    def fit(self, view: Any) -> None:
        feats, targets = [], []
        for inp, target in view:
            feats.append(self.features(inp))
            targets.append(np.asarray(target))
        x, y = np.concatenate(feats), np.concatenate(targets)
        if len(x) < 2:
            raise ConfigError(f"k-NN baseline: {len(x)} training sample(s); give a source with more samples")
        knn = KNeighborsClassifier if self.classify else KNeighborsRegressor
        self.model = make_pipeline(StandardScaler(), knn(n_neighbors=min(self.neighbours, len(x)), weights="distance"))
        self.shape = y.shape[1:]
        self.model.fit(x, y.reshape(len(y), -1) if not self.classify else y)

    def predict(self, inp: Tensor, meta: Any) -> np.ndarray:
        x = self.features(inp)
        if not self.classify:
            return self.model.predict(x).reshape(len(x), *self.shape)
        proba = self.model.predict_proba(x)
        classes = self.model.classes_
        scores = np.full((len(x), int(classes.max()) + 1), -1.0)
        scores[:, classes] = proba
        return scores
