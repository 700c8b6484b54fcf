"""Alerts that reach people: events built by pure functions from what a stage recorded, sent by
``AlertDataset`` (a webhook, the log) once per event id."""

from financial_mlops.alerts.sink import AlertDataset

__all__ = ["AlertDataset"]
