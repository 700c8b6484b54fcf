"""Retraining: the tournament, then the promotion decision, then validation of what serves."""

from financial_mlops.pipelines.retraining.pipeline import create_pipeline

__all__ = ["create_pipeline"]
