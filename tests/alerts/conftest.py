"""A real HTTP receiver on 127.0.0.1 for the alerts' webhook, and the sink settings that point
at it (credentials through conf/local/credentials.yml, as a user sets them)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from tests.conftest import REPO
from tests.pipelines.deployment.conftest import (  # noqa: F401
    gold_and_labels,
    params,
    registry,
    scoring_slice,
)
from tests.pipelines.drift.conftest import (  # noqa: F401
    drift_project,
    make_champion,
    migrated_registry,
    write_gold,
)

TOKEN = "test-token"  # noqa: S105 - a throwaway bearer token for the local receiver


class Receiver:
    """Records every POST (path, headers, JSON body); answers ``status`` (200 by default)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers),
                                          "json": json.loads(body)})
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                """Quiet: the test reads ``requests``."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/alerts"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def events(self, kind: str | None = None) -> list[dict]:
        """The successfully answered generic payloads (of ``kind``)."""
        return [r["json"] for r in self.requests
                if kind is None or r["json"].get("kind") == kind]


@pytest.fixture
def receiver():
    running = Receiver()
    running.thread.start()
    yield running
    running.server.shutdown()
    running.server.server_close()


# Fast retries for tests: no backoff wait between attempts.
DELIVERY = {"retries": 2, "backoff_seconds": 0, "timeout_seconds": 5}


@pytest.fixture
def webhook(project, receiver) -> Receiver:
    """The project's alerts webhook is the receiver (credentials, as a user sets them)."""
    (project.conf / "local" / "credentials.yml").write_text(yaml.safe_dump(
        {"alerts_webhook": {"url": receiver.url, "token": TOKEN}}))
    return receiver


@pytest.fixture
def alerts_params() -> dict:
    """``params:alerts`` as conf/base has it, with the test's fast delivery."""
    alerts = yaml.safe_load((REPO / "conf/base/parameters_alerts.yml").read_text())["alerts"]
    return {**alerts, "delivery": {**alerts["delivery"], **DELIVERY}}
