"""Validation on demand: the champion is what was last decided, it serves, and rollback works."""

from financial_mlops.pipelines.validation.pipeline import create_pipeline

__all__ = ["create_pipeline"]
