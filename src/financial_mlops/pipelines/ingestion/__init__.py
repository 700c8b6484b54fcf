"""Market trades from a source into the landing zone, then incrementally into bronze."""

from financial_mlops.pipelines.ingestion.pipeline import create_pipeline

__all__ = ["create_pipeline"]
