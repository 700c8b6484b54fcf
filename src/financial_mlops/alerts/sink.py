"""Where alert events go: the log and a webhook, each event once per sink.

``AlertDataset`` is what alert-raising nodes save to. It sends every event its ledger (a Delta
table of the ``(event id, sink)`` pairs already delivered) does not hold yet, then records what
was delivered. The ledger is a table, not memory, so a task retry or a rerun over the same
inputs sends nothing twice. A sink that fails (the receiver down, a 5xx after the retries, a
timeout) never fails the run: the failure is logged and the pair is not recorded, so the next
run that raises the same event sends it again.
"""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime
from typing import Any

import mlflow
import pandas as pd
import requests
from kedro.io import AbstractDataset, DatasetError
from pyspark.sql import functions as F
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from financial_mlops.datasets.delta import DeltaDataset

log = logging.getLogger(__name__)

LEDGER_SCHEMA = ("event_id STRING, sink STRING, kind STRING, severity STRING, title STRING, "
                 "sent_at TIMESTAMP")
# Databricks secrets read when credentials leave the webhook unset (docs/alerts.md).
SECRET_KEYS = {"url": "alerts_webhook_url", "token": "alerts_webhook_token"}


def text(event: dict) -> str:
    """The event for people: ``[SEVERITY] title`` and one line per detail line."""
    return "\n".join([f"[{event['severity'].upper()}] {event['title']}",
                      *(f"- {line}" for line in event["lines"])])


def payload(event: dict, fmt: str) -> dict:
    """``slack``: Slack's incoming-webhook body ``{"text": ...}``; else the whole event."""
    if fmt == "slack":
        return {"text": text(event)}
    return {**{k: event[k] for k in ("id", "kind", "severity", "title", "details", "run")},
            "text": text(event)}


class LogSink:
    name = "log"

    LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "critical": logging.ERROR}

    def send(self, event: dict) -> None:
        log.log(self.LEVELS[event["severity"]], "Alert %s: %s", event["id"],
                text(event).replace("\n", " | "))


class WebhookSink:
    """JSON POST with urllib3's ``Retry``: 429 and 5xx retried with exponential backoff
    (honouring ``Retry-After``), each attempt bounded by ``timeout_seconds``."""

    name = "webhook"

    def __init__(self, url: str, token: str | None, delivery: dict) -> None:
        self._url, self._format = url, delivery["format"]
        self._timeout = float(delivery["timeout_seconds"])
        retry = Retry(total=int(delivery["retries"]),
                      backoff_factor=float(delivery["backoff_seconds"]),
                      status_forcelist=(429, 500, 502, 503, 504), allowed_methods={"POST"})
        self._session = requests.Session()
        self._session.mount("http://", HTTPAdapter(max_retries=retry))
        self._session.mount("https://", HTTPAdapter(max_retries=retry))
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"

    def send(self, event: dict) -> None:
        response = self._session.post(self._url, json=payload(event, self._format),
                                      timeout=self._timeout)
        response.raise_for_status()


def _active_run() -> dict | None:
    """The MLflow run the event was raised in (its report artifacts live there)."""
    run = mlflow.active_run()
    return None if run is None else {"run_id": run.info.run_id,
                                     "experiment_id": run.info.experiment_id}


class AlertDataset(AbstractDataset[dict, None]):
    """Sends an outbox (``alerts.events.outbox``) to the log and, when a URL is configured, the
    webhook; each ``(event id, sink)`` once, as the ``ledger`` Delta table records.

    ``credentials``: ``url`` and optional ``token`` (a bearer token) of the webhook, from
    ``credentials.yml`` (environment variables); where they are unset and
    ``databricks_secret_scope`` is given, the secrets ``alerts_webhook_url`` and
    ``alerts_webhook_token`` of that scope. Never parameters: kedro-mlflow logs those.
    """

    def __init__(self, *, ledger: dict[str, Any], credentials: dict[str, Any] | None = None,
                 databricks_secret_scope: str | None = None,
                 metadata: dict[str, Any] | None = None) -> None:
        self._ledger = DeltaDataset(**ledger, schema=LEDGER_SCHEMA,
                                    save_args={"mode": "merge", "keys": ["event_id", "sink"]})
        self._credentials = dict(credentials or {})
        self._scope = databricks_secret_scope
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        # Never the URL itself (a Slack URL is the secret), and no secret lookup here.
        webhook = ("credentials" if self._credentials.get("url") else
                   f"secret scope {self._scope}" if self._scope else None)
        return {"ledger": self._ledger.location, "webhook": webhook}

    def _load(self) -> None:
        raise DatasetError("An alert sink is write-only: read its ledger table instead.")

    def _webhook_setting(self, key: str) -> str | None:
        value = self._credentials.get(key)
        if value or not self._scope:
            return value
        from databricks.sdk import WorkspaceClient

        try:
            secret = WorkspaceClient().secrets.get_secret(self._scope, SECRET_KEYS[key])
        except Exception as error:  # noqa: BLE001 - no secret is no webhook, said in the log
            log.warning("Alerts: no secret %s/%s (%s)", self._scope, SECRET_KEYS[key], error)
            return None
        return base64.b64decode(secret.value).decode()

    def _sinks(self, delivery: dict) -> list:
        sinks = [LogSink()] if delivery["log"] else []
        url = self._webhook_setting("url") if delivery["webhook"] else None
        if url:
            sinks.append(WebhookSink(url, self._webhook_setting("token"), delivery))
        elif delivery["webhook"]:
            log.info("Alerts: no webhook URL configured (ALERTS_WEBHOOK_URL); log only")
        return sinks

    def _delivered(self, ids: list[str]) -> set[tuple[str, str]]:
        rows = self._ledger.load().filter(F.col("event_id").isin(ids)).select("event_id", "sink")
        return {(row["event_id"], row["sink"]) for row in rows.collect()}

    def _save(self, outbox: dict) -> None:
        events = outbox["events"]
        if not events:
            return
        delivered = self._delivered([event["id"] for event in events])
        run = _active_run()
        sent = []
        for sink in self._sinks(outbox["delivery"]):
            for event in events:
                if (event["id"], sink.name) in delivered:
                    log.info("Alert %s already sent to %s", event["id"], sink.name)
                    continue
                try:
                    sink.send({**event, "run": run})
                except requests.RequestException as error:
                    log.error("Alert %s (%s) not sent to %s: %s; a run that raises it again "
                              "will retry", event["id"], event["title"], sink.name, error)
                    continue
                sent.append({"event_id": event["id"], "sink": sink.name, "kind": event["kind"],
                             "severity": event["severity"], "title": event["title"],
                             "sent_at": datetime.now(UTC).replace(tzinfo=None)})
        if not sent:
            return
        try:
            self._ledger.save(pd.DataFrame(sent))
        except Exception as error:  # noqa: BLE001 - Delta's conflicts reach Python as Java errors
            # E.g. two jobs merging into the ledger at once: the events went out; at worst a
            # rerun over the same inputs sends them again.
            log.error("Alerts ledger %s not updated (%s): %s may be sent again by a rerun",
                      self._ledger.location, str(error).splitlines()[0],
                      ", ".join(row["event_id"] for row in sent))
