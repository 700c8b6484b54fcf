"""The `http` trade source: Binance Spot public aggregate trades (`GET /api/v3/aggTrades`).

Why it looks like this:
- Incremental by trade id: the cursor keeps the last aggregate trade id per symbol and the
  next run asks for `fromId = last + 1`, so nothing already fetched is fetched again.
  A symbol without a cursor starts at `start_from_id` when it is configured, otherwise at
  the most recent `limit` trades (no history backfill: older trades are never requested).
- Retries are urllib3's `Retry` on a `requests` session: exponential backoff on 429/5xx,
  connection errors and read timeouts, honouring `Retry-After`. Every wait (backoff or
  `Retry-After`) is capped at `retries.max_backoff`, so one request lasts at most
  `(total + 1) * (connect + read timeout) + total * max_backoff` seconds.
- Errors that retrying cannot fix (4xx other than 429, 418 = IP banned, retries exhausted,
  host unreachable) raise a one-line `UserError`; the cursor is then not advanced, so the
  next run fetches the same trades again and nothing is lost.
- A malformed body or record is not dropped: it is returned as raw text lines that land in
  bronze as unparsed rows, and a warning is logged.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import UTC, datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from financial_mlops.errors import UserError

logger = logging.getLogger(__name__)

AGG_TRADES_PATH = "/api/v3/aggTrades"
MAX_LIMIT = 1000  # the endpoint's own maximum page size
RETRY_STATUSES = frozenset([429, *range(500, 600)])

DEFAULTS: dict[str, Any] = {
    "base_url": "https://api.binance.com",
    "symbols": [],
    "limit": MAX_LIMIT,
    "max_pages": 10,
    "exchange": "BINANCE",
    "field_map": {"trade_id": "a", "price": "p", "volume": "q", "timestamp": "T"},
    "timeout": {"connect": 5.0, "read": 10.0},
    "retries": {"total": 5, "backoff_factor": 0.5, "max_backoff": 30.0},
    "start_from_id": None,
}


def fetch_trades(
    config: dict, cursor: dict | None, api_key: str | None = None
) -> tuple[list[str], dict]:
    """Return (json_lines, next_cursor): one JSON text line per trade in our record schema
    (trade_id, symbol, price, volume, timestamp, exchange), raw text for malformed records."""
    settings = _settings(config)
    next_cursor = dict(cursor or {})
    lines: list[str] = []
    with _session(settings, api_key) as session:
        for symbol in settings["symbols"]:
            symbol_lines, last_id = _fetch_symbol(
                session, settings, symbol, next_cursor.get(symbol)
            )
            lines.extend(symbol_lines)
            if last_id is not None:
                next_cursor[symbol] = last_id
    return lines, next_cursor


def _settings(config: dict) -> dict:
    """Defaults overlaid by `config` (nested blocks merged key by key), checked for mistakes."""
    settings = {**DEFAULTS, **config}
    for block in ("field_map", "timeout", "retries"):
        settings[block] = {**DEFAULTS[block], **(config.get(block) or {})}
    symbols = settings["symbols"]
    if (
        not isinstance(symbols, list)
        or not symbols
        or not all(isinstance(s, str) and s for s in symbols)
    ):
        raise UserError(
            f"ingestion.http.symbols must be a non-empty list of symbols, got {symbols!r}"
        )
    if not 1 <= int(settings["limit"]) <= MAX_LIMIT:
        raise UserError(f"ingestion.http.limit must be 1..{MAX_LIMIT}, got {settings['limit']}")
    if int(settings["max_pages"]) < 1:
        raise UserError(f"ingestion.http.max_pages must be >= 1, got {settings['max_pages']}")
    unknown = set(settings["field_map"]) - set(DEFAULTS["field_map"])
    if unknown:
        raise UserError(f"ingestion.http.field_map has unknown fields: {sorted(unknown)}")
    return settings


def _session(settings: dict, api_key: str | None) -> requests.Session:
    retries = settings["retries"]
    retry = Retry(
        total=int(retries["total"]),
        backoff_factor=float(retries["backoff_factor"]),
        backoff_max=float(retries["max_backoff"]),
        retry_after_max=float(retries["max_backoff"]),
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset(["GET"]),
        respect_retry_after_header=True,
        raise_on_status=False,  # keep the last response: its API message makes the error
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if api_key:
        session.headers["X-MBX-APIKEY"] = api_key
    return session


def _fetch_symbol(
    session: requests.Session, settings: dict, symbol: str, last_id: int | None
) -> tuple[list[str], int | None]:
    """Page forward from the cursor until a short page or `max_pages`; return lines, last id."""
    from_id = int(last_id) + 1 if last_id is not None else settings["start_from_id"]
    limit = int(settings["limit"])
    lines: list[str] = []
    for _ in range(int(settings["max_pages"])):
        records, raw_lines = _parse_body(_get_page(session, settings, symbol, from_id, limit))
        if records is None:  # no list to page on: keep the body, retry from the same id next run
            _warn_malformed(symbol, from_id, raw_lines, "the response is not a JSON list")
            lines.extend(raw_lines)
            break
        page_lines, raw_lines, page_last_id = _map_records(records, symbol, settings)
        if raw_lines:
            _warn_malformed(symbol, from_id, raw_lines, "records could not be mapped")
        lines.extend(page_lines + raw_lines)
        if page_last_id is not None:
            last_id = page_last_id
            from_id = last_id + 1
        if page_last_id is None or len(records) < limit:
            break
    return lines, last_id


def _get_page(
    session: requests.Session, settings: dict, symbol: str, from_id: int | None, limit: int
) -> str:
    """One GET (urllib3 does the retries); any final failure becomes a one-line UserError."""
    params: dict[str, Any] = {"symbol": symbol, "limit": limit}
    if from_id is not None:
        params["fromId"] = from_id
    timeout = (float(settings["timeout"]["connect"]), float(settings["timeout"]["read"]))
    url = settings["base_url"].rstrip("/") + AGG_TRADES_PATH
    try:
        response = session.get(url, params=params, timeout=timeout)
    except requests.RequestException as exc:
        raise UserError(f"cannot reach {settings['base_url']}: {_reason(exc)}") from exc
    if response.status_code != 200:
        retried = (
            f" after {settings['retries']['total']} retries"
            if response.status_code in RETRY_STATUSES
            else ""
        )
        raise UserError(
            f"Binance aggTrades for symbol {symbol} failed with HTTP {response.status_code}"
            f"{retried}: {_api_message(response.text)}"
        )
    return response.text


def _parse_body(body: str) -> tuple[list | None, list[str]]:
    """(records, []) for a JSON list; otherwise (None, the body as raw one-line texts)."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None, [line for line in body.splitlines() if line.strip()]
    if isinstance(payload, list):
        return payload, []
    return None, [json.dumps(payload)]


def _map_records(
    records: list, symbol: str, settings: dict
) -> tuple[list[str], list[str], int | None]:
    """(trade lines, raw lines of records that do not map, highest trade id seen).

    The highest id counts malformed records too: they are kept raw, so they are not refetched.
    """
    id_field = settings["field_map"]["trade_id"]
    trade_lines, raw_lines, ids = [], [], []
    for record in records:
        if isinstance(record, dict) and _is_int(record.get(id_field)):
            ids.append(record[id_field])
        try:
            trade_lines.append(json.dumps(_to_trade(record, symbol, settings)))
        except (KeyError, TypeError, ValueError, OverflowError, OSError):
            raw_lines.append(json.dumps(record))
    return trade_lines, raw_lines, max(ids, default=None)


def _to_trade(record: dict, symbol: str, settings: dict) -> dict:
    fields = settings["field_map"]
    trade_id = record[fields["trade_id"]]
    if not _is_int(trade_id):
        raise TypeError(f"trade id {trade_id!r} is not an integer")
    exchange = settings["exchange"]
    return {
        "trade_id": f"{exchange}-{symbol}-{trade_id}",
        "symbol": symbol,
        "price": _finite_float(record[fields["price"]]),
        "volume": _finite_float(record[fields["volume"]]),
        "timestamp": _iso_utc_millis(record[fields["timestamp"]]),
        "exchange": exchange,
    }


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _finite_float(value: Any) -> float:
    """Binance sends decimals as strings; a bool, NaN or infinity is not a price."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise TypeError(f"{value!r} is not a number")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not finite")
    return number


def _iso_utc_millis(epoch_ms: Any) -> str:
    """Millisecond epoch -> `2026-01-05T14:30:00.123Z`, in integers so no float rounding."""
    if not _is_int(epoch_ms):
        raise TypeError(f"timestamp {epoch_ms!r} is not integer milliseconds")
    seconds, millis = divmod(epoch_ms, 1000)
    return f"{datetime.fromtimestamp(seconds, UTC):%Y-%m-%dT%H:%M:%S}.{millis:03d}Z"


def _warn_malformed(symbol: str, from_id: int | None, raw_lines: list[str], why: str) -> None:
    logger.warning(
        "aggTrades %s (fromId=%s): %s; %d raw line(s) kept for bronze",
        symbol,
        from_id,
        why,
        len(raw_lines),
    )


def _api_message(body: str) -> str:
    """Binance errors are `{"code": -1121, "msg": "Invalid symbol."}`; else the body itself."""
    try:
        error = json.loads(body)
        return f"{error['msg']} (code {error['code']})"
    except (ValueError, TypeError, KeyError):
        return _one_line(body) or "empty response body"


def _reason(exc: requests.RequestException) -> str:
    """The underlying cause (e.g. connection refused) rather than requests' nested wrapper."""
    cause = exc.args[0] if exc.args else exc
    return _one_line(str(getattr(cause, "reason", cause)))


def _one_line(text: str, limit: int = 300) -> str:
    return " ".join(text.split())[:limit]
