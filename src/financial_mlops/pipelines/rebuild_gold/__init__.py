"""Rebuild gold from silver after its feature set changed (docs/features.md)."""

from financial_mlops.pipelines.rebuild_gold.pipeline import create_pipeline

__all__ = ["create_pipeline"]
