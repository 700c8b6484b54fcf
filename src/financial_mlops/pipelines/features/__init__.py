"""Bronze trades into validated silver, a quarantine of rejected rows, and gold features."""

from financial_mlops.pipelines.features.pipeline import create_pipeline

__all__ = ["create_pipeline"]
