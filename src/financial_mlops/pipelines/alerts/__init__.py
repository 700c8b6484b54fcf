"""Alerts: the periodic digest of the trades the champion flagged."""

from financial_mlops.pipelines.alerts.pipeline import create_pipeline

__all__ = ["create_pipeline"]
