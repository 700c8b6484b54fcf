"""A real HTTP server on 127.0.0.1 that speaks Binance Spot's `GET /api/v3/aggTrades`.

It serves an in-memory trade list per symbol honouring `fromId` and `limit` (without `fromId`
it returns the most recent trades, as Binance does), answers an unknown symbol with Binance's
`{"code": -1121, "msg": "Invalid symbol."}`, and first plays any scripted `Fault`s, one per
request. Every request is recorded so tests can count hits and read the parameters sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

AGG_TRADES_PATH = "/api/v3/aggTrades"


@dataclass
class Fault:
    """One scripted answer: wait `delay` seconds (longer than the client's read timeout = a
    timeout), then send `status`/`body`/`headers`, or the normal page when `body` is None."""

    status: int = 200
    body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def make_agg_trades(count: int, first_id: int = 1000, first_ms: int = 1_767_623_400_000) -> list:
    """`count` aggregate trades in the documented shape, ids and times increasing."""
    return [
        {
            "a": first_id + i,
            "p": f"{100 + i * 0.5:.8f}",
            "q": f"{0.001 * (i + 1):.8f}",
            "f": 10 * (first_id + i),
            "l": 10 * (first_id + i) + 1,
            "T": first_ms + 250 * i,
            "m": i % 2 == 0,
            "M": True,
        }
        for i in range(count)
    ]


class BinanceStub:
    """Start with `with BinanceStub({...}) as stub:`; the API is then at `stub.base_url`."""

    def __init__(self, trades: dict[str, list[dict]]):
        self.trades = trades
        self.faults: deque[Fault] = deque()
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.stub = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )  # a short poll makes `shutdown` quick
        host, port = self._server.server_address[:2]
        self.base_url = f"http://{host}:{port}"

    @property
    def hits(self) -> int:
        return len(self.requests)

    def __enter__(self) -> BinanceStub:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def record(self, path: str, query: dict, headers: dict) -> Fault | None:
        """Log one request and hand out the next scripted fault, if any."""
        with self._lock:
            self.requests.append({"path": path, **query, "headers": headers})
            return self.faults.popleft() if self.faults else None

    def page(self, path: str, query: dict) -> tuple[int, object]:
        if path != AGG_TRADES_PATH:
            return 404, {"code": -1000, "msg": f"unknown path {path}"}
        trades = self.trades.get(query.get("symbol", ""))
        if trades is None:
            return 400, {"code": -1121, "msg": "Invalid symbol."}
        limit = int(query.get("limit", 500))
        if not 1 <= limit <= 1000:
            return 400, {"code": -1130, "msg": "Data sent for parameter 'limit' is not valid."}
        if "fromId" not in query:
            return 200, trades[-limit:]
        return 200, [t for t in trades if t["a"] >= int(query["fromId"])][:limit]


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query))
        headers = {name.lower(): value for name, value in self.headers.items()}
        fault = self.server.stub.record(url.path, query, headers)
        if fault and fault.delay:
            time.sleep(fault.delay)
        if fault and fault.body is not None:
            self._send(fault.status, fault.body, fault.headers)
            return
        status, payload = self.server.stub.page(url.path, query)
        self._send(status, json.dumps(payload), {})

    def _send(self, status: int, body: str, headers: dict[str, str]) -> None:
        data = body.encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (read timeout) before this late answer

    def log_message(self, format: str, *args) -> None:
        pass  # keep test output quiet; requests are in `stub.requests`
