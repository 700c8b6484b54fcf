"""Drift monitoring: recent gold and champion scores against the champion's reference profile,
with reports, and retraining triggered on an alert behind a cooldown."""

from financial_mlops.pipelines.drift.pipeline import create_pipeline

__all__ = ["create_pipeline"]
