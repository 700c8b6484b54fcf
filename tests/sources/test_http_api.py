"""The `http` trade source against a real Binance-shaped HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import socket
import time

import pytest
from binance_stub_server import BinanceStub, Fault, make_agg_trades

from financial_mlops.errors import UserError
from financial_mlops.sources.http_api import fetch_trades

DOCUMENTED_RECORD = {
    "a": 26129, "p": "0.01633102", "q": "4.70443515", "f": 27781, "l": 27781,
    "T": 1498793709153, "m": True, "M": True,
}  # fmt: skip


@pytest.fixture
def stub():
    trades = {"BTCUSDT": make_agg_trades(25, first_id=1000), "ETHUSDT": make_agg_trades(3, 7)}
    with BinanceStub(trades) as server:
        yield server


def config_for(stub: BinanceStub, **overrides) -> dict:
    """Small pages, short timeouts and backoffs so every fault plays out in about a second."""
    return {
        "base_url": stub.base_url,
        "symbols": ["BTCUSDT"],
        "limit": 10,
        "max_pages": 5,
        "timeout": {"connect": 0.5, "read": 0.5},
        "retries": {"total": 3, "backoff_factor": 0.05, "max_backoff": 0.5},
        "start_from_id": 1000,
        **overrides,
    }


def trade_ids(lines: list[str]) -> list[str]:
    return [json.loads(line)["trade_id"] for line in lines]


def from_ids(stub: BinanceStub) -> list[str | None]:
    return [request.get("fromId") for request in stub.requests]


def test_maps_the_documented_record_to_our_trade_schema(stub):
    stub.trades["BTCUSDT"] = [DOCUMENTED_RECORD]

    lines, cursor = fetch_trades(config_for(stub, start_from_id=None), None)

    assert [json.loads(line) for line in lines] == [
        {
            "trade_id": "BINANCE-BTCUSDT-26129",
            "symbol": "BTCUSDT",
            "price": 0.01633102,
            "volume": 4.70443515,
            "timestamp": "2017-06-30T03:35:09.153Z",
            "exchange": "BINANCE",
        }
    ]
    assert cursor == {"BTCUSDT": 26129}


def test_exchange_and_field_map_come_from_parameters(stub):
    stub.trades["BTCUSDT"] = [DOCUMENTED_RECORD]
    config = config_for(stub, start_from_id=None, exchange="BINANCE_US", field_map={"volume": "f"})

    (line,), _ = fetch_trades(config, None)

    trade = json.loads(line)
    assert trade["trade_id"] == "BINANCE_US-BTCUSDT-26129"
    assert trade["exchange"] == "BINANCE_US"
    assert trade["volume"] == 27781.0
    assert trade["price"] == 0.01633102


def test_pages_forward_and_the_cursor_never_refetches(stub):
    config = config_for(stub, max_pages=2)

    first, cursor = fetch_trades(config, None)
    assert trade_ids(first) == [f"BINANCE-BTCUSDT-{i}" for i in range(1000, 1020)]
    assert cursor == {"BTCUSDT": 1019}
    assert from_ids(stub) == ["1000", "1010"]

    second, cursor = fetch_trades(config, cursor)
    assert trade_ids(second) == [f"BINANCE-BTCUSDT-{i}" for i in range(1020, 1025)]
    assert cursor == {"BTCUSDT": 1024}
    assert from_ids(stub)[2:] == ["1020"]  # a short page means caught up: no extra request

    third, unchanged = fetch_trades(config, cursor)
    assert third == []
    assert unchanged == {"BTCUSDT": 1024}
    assert from_ids(stub)[3:] == ["1025"]


def test_without_cursor_or_start_id_the_first_run_takes_the_most_recent_trades(stub):
    lines, cursor = fetch_trades(config_for(stub, start_from_id=None), None)

    assert trade_ids(lines) == [f"BINANCE-BTCUSDT-{i}" for i in range(1015, 1025)]
    assert cursor == {"BTCUSDT": 1024}
    assert from_ids(stub) == [None, "1025"]  # a full page: look once more for newer trades


def test_cursor_is_per_symbol_and_keeps_symbols_not_fetched(stub):
    config = config_for(stub, symbols=["BTCUSDT", "ETHUSDT"], start_from_id=None)

    lines, cursor = fetch_trades(config, {"BTCUSDT": 1021, "SOLUSDT": 5})

    assert trade_ids(lines) == [
        "BINANCE-BTCUSDT-1022", "BINANCE-BTCUSDT-1023", "BINANCE-BTCUSDT-1024",
        "BINANCE-ETHUSDT-7", "BINANCE-ETHUSDT-8", "BINANCE-ETHUSDT-9",
    ]  # fmt: skip
    assert cursor == {"BTCUSDT": 1024, "ETHUSDT": 9, "SOLUSDT": 5}


def test_api_key_goes_in_the_binance_header_only_when_configured(stub):
    fetch_trades(config_for(stub, max_pages=1), None, api_key="my-key")
    fetch_trades(config_for(stub, max_pages=1), None)

    assert stub.requests[0]["headers"]["x-mbx-apikey"] == "my-key"
    assert "x-mbx-apikey" not in stub.requests[1]["headers"]


def test_retries_server_errors_then_succeeds(stub):
    stub.faults.extend([Fault(500, "oops"), Fault(502, "<html>Bad Gateway</html>")])

    lines, cursor = fetch_trades(config_for(stub, max_pages=1), None)

    assert stub.hits == 3
    assert len(lines) == 10
    assert cursor == {"BTCUSDT": 1009}


def test_honours_retry_after_on_429(stub):
    stub.faults.append(
        Fault(429, '{"code": -1003, "msg": "Too many requests."}', {"Retry-After": "1"})
    )
    config = config_for(
        stub, max_pages=1, retries={"total": 3, "backoff_factor": 0.05, "max_backoff": 2}
    )

    started = time.monotonic()
    lines, _ = fetch_trades(config, None)
    elapsed = time.monotonic() - started

    assert stub.hits == 2
    assert elapsed >= 1.0
    assert len(lines) == 10


def test_caps_a_long_retry_after_at_max_backoff(stub):
    stub.faults.append(
        Fault(429, '{"code": -1003, "msg": "Too many requests."}', {"Retry-After": "30"})
    )

    started = time.monotonic()
    lines, _ = fetch_trades(config_for(stub, max_pages=1), None)

    assert time.monotonic() - started < 3
    assert stub.hits == 2
    assert len(lines) == 10


def test_retries_a_response_slower_than_the_read_timeout(stub):
    stub.faults.append(Fault(delay=1.5))

    started = time.monotonic()
    lines, _ = fetch_trades(config_for(stub, max_pages=1), None)
    elapsed = time.monotonic() - started

    assert stub.hits == 2
    assert 0.5 <= elapsed < 3
    assert trade_ids(lines)[0] == "BINANCE-BTCUSDT-1000"


def test_gives_up_after_the_retries_with_a_one_line_error(stub):
    stub.faults.extend(Fault(503, "Service Unavailable\n") for _ in range(4))

    started = time.monotonic()
    with pytest.raises(UserError) as error:
        fetch_trades(config_for(stub), {"BTCUSDT": 1004})

    assert time.monotonic() - started < 3
    assert stub.hits == 4  # the first attempt and 3 retries
    assert str(error.value) == (
        "Binance aggTrades for symbol BTCUSDT failed with HTTP 503 after 3 retries: "
        "Service Unavailable"
    )


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (None, "symbol NOPE failed with HTTP 400: Invalid symbol. (code -1121)"),
        (
            Fault(418, '{"code": -1003, "msg": "Way too many requests; IP banned."}',
                  {"Retry-After": "1"}),
            "symbol NOPE failed with HTTP 418: Way too many requests; IP banned. (code -1003)",
        ),
    ],
    ids=["invalid-symbol", "banned"],
)  # fmt: skip
def test_client_errors_fail_at_once_naming_symbol_and_api_message(stub, fault, expected):
    if fault:
        stub.faults.append(fault)

    with pytest.raises(UserError) as error:
        fetch_trades(config_for(stub, symbols=["NOPE"]), None)

    assert stub.hits == 1
    assert expected in str(error.value)
    assert "\n" not in str(error.value)


def test_unreachable_host_is_a_one_line_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once closed: nothing listens there
    base_url = f"http://127.0.0.1:{port}"
    config = {"base_url": base_url, "symbols": ["BTCUSDT"],
              "retries": {"total": 2, "backoff_factor": 0.05, "max_backoff": 0.5}}  # fmt: skip

    started = time.monotonic()
    with pytest.raises(UserError) as error:
        fetch_trades(config, None)

    assert time.monotonic() - started < 3
    assert str(error.value).startswith(f"cannot reach {base_url}: ")
    assert "refused" in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("body", "raw_lines"),
    [
        ("<html>\n<body>Down for maintenance</body>\n</html>\n",
         ["<html>", "<body>Down for maintenance</body>", "</html>"]),
        ('{"unexpected": "object"}', ['{"unexpected": "object"}']),
    ],
    ids=["not-json", "not-a-list"],
)  # fmt: skip
def test_a_body_that_is_not_a_list_lands_as_raw_lines(stub, caplog, body, raw_lines):
    stub.faults.append(Fault(200, body))

    with caplog.at_level(logging.WARNING, logger="financial_mlops.sources.http_api"):
        lines, cursor = fetch_trades(config_for(stub), {"BTCUSDT": 1009})

    assert lines == raw_lines
    assert cursor == {"BTCUSDT": 1009}  # nothing mapped: the same page is asked again next run
    assert stub.hits == 1
    assert "not a JSON list" in caplog.text


def test_malformed_records_land_as_raw_lines_and_the_cursor_passes_them(stub, caplog):
    good, bad_price, no_price, no_id, good_last = make_agg_trades(5, first_id=1000)
    bad_price["p"] = "abc"
    del no_price["p"]
    del no_id["a"]
    page = [good, bad_price, no_price, no_id, "garbage", good_last]
    stub.faults.append(Fault(200, json.dumps(page)))

    with caplog.at_level(logging.WARNING, logger="financial_mlops.sources.http_api"):
        lines, cursor = fetch_trades(config_for(stub), None)

    assert trade_ids(lines[:2]) == ["BINANCE-BTCUSDT-1000", "BINANCE-BTCUSDT-1004"]
    assert lines[2:] == [json.dumps(record) for record in (bad_price, no_price, no_id, "garbage")]
    assert cursor == {"BTCUSDT": 1004}
    assert "4 raw line(s)" in caplog.text

    fetch_trades(config_for(stub), cursor)
    assert from_ids(stub)[1] == "1005"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"symbols": []}, "ingestion.http.symbols must be a non-empty list"),
        ({"symbols": "BTCUSDT"}, "ingestion.http.symbols must be a non-empty list"),
        ({"limit": 1001}, "ingestion.http.limit must be 1..1000"),
        ({"max_pages": 0}, "ingestion.http.max_pages must be >= 1"),
        ({"field_map": {"side": "m"}}, "ingestion.http.field_map has unknown fields: ['side']"),
    ],
)
def test_configuration_mistakes_are_user_errors(stub, overrides, message):
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]")):
        fetch_trades(config_for(stub, **overrides), None)
    assert stub.hits == 0
