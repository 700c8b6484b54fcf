"""Deployment: promote the newest challenger to champion only if it passes every safety gate."""

from financial_mlops.pipelines.deployment.pipeline import create_pipeline

__all__ = ["create_pipeline"]
