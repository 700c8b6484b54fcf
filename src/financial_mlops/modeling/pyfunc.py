"""The registered model: one ``mlflow.pyfunc.PythonModel`` for every candidate kind.

``predict`` returns ``score`` (continuous, higher = more anomalous) and ``is_anomaly`` (0/1 at the
threshold tuned on validation). MLflow's generic sklearn flavour would return IsolationForest's
-1/1 labels and would store it with skops, which refuses its tree type; here the fitted estimator
is cloudpickled inside the PythonModel instead. The model carries the ``financial_mlops`` package
it imports (MLflow ``code_paths``): it loads where the project is not installed (a notebook,
model serving), and where it is (every job) the installed package, imported first, is used.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.models import infer_signature

import financial_mlops
from financial_mlops.modeling.scoring import detections

# Pinned to what trained the model; listing them skips MLflow's slow requirement inference.
_REQUIREMENTS = ("mlflow", "scikit-learn", "xgboost", "pandas", "numpy", "cloudpickle")


class AnomalyDetector(mlflow.pyfunc.PythonModel):
    """A fitted candidate, its feature list and its decision threshold."""

    def __init__(self, estimator: Any, features: list[str], threshold: float) -> None:
        self.estimator = estimator
        self.features = list(features)
        self.threshold = float(threshold)

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return detections(self.estimator, self.features, self.threshold, model_input)


def log_detector(detector: AnomalyDetector, example: pd.DataFrame) -> mlflow.models.model.ModelInfo:
    """Log the detector as ``model`` in the active run, with its signature (inputs: the feature
    columns as double; outputs: score double, is_anomaly integer) and an input example."""
    inputs = example[detector.features].astype(float).head(5)
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=detector,
        signature=infer_signature(inputs, detector.predict(None, inputs)),
        input_example=inputs,
        pip_requirements=[f"{name}=={version(name)}" for name in _REQUIREMENTS],
        code_paths=[str(Path(financial_mlops.__file__).parent)],
    )
