"""Rollback: champion back to the previous champion or to a named version, validated."""

from financial_mlops.pipelines.rollback.pipeline import create_pipeline

__all__ = ["create_pipeline"]
