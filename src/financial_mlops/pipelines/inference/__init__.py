"""New gold trades scored once each by the live @champion model, as a Structured Stream."""

from financial_mlops.pipelines.inference.pipeline import create_pipeline

__all__ = ["create_pipeline"]
