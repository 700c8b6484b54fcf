"""Model tournament: tuned candidates compete on PR-AUC; the winner is registered."""

from financial_mlops.pipelines.tournament.pipeline import create_pipeline

__all__ = ["create_pipeline"]
