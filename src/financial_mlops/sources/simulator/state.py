"""The market between batches, and its JSON-serialisable form (the `state` dict)."""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import NamedTuple

import numpy as np

from financial_mlops.errors import UserError

from .arguments import number, whole_number
from .universe import OPEN_PRICES, SYMBOLS

_STATE_KEYS = ("batch_index", "next_trade_number", "clock", "mid_prices")


class Market(NamedTuple):
    batch_index: int  # with the seed, picks the batch's RNG
    next_trade_number: int
    clock_ms: int  # time of the latest print so far
    mids: np.ndarray  # per symbol, in SYMBOLS order


def iso_ms(ts_ms: np.ndarray) -> np.ndarray:
    """Epoch milliseconds as ISO-8601 UTC text with milliseconds, e.g. 2026-01-05T14:30:00.123Z."""
    return np.datetime_as_string(ts_ms.astype("datetime64[ms]"), unit="ms", timezone="UTC")


def fresh_market(start: object) -> Market:
    return Market(0, 1, _epoch_ms(start, "start"), OPEN_PRICES.copy())


def market_from_state(state: object) -> Market:
    if not isinstance(state, Mapping) or sorted(state) != sorted(_STATE_KEYS):
        keys = sorted(state) if isinstance(state, Mapping) else type(state).__name__
        raise UserError(f"invalid simulator state: expected keys {list(_STATE_KEYS)}, got {keys}")
    mids = state["mid_prices"]
    if not isinstance(mids, Mapping) or sorted(mids) != sorted(SYMBOLS):
        raise UserError(f"invalid simulator state: mid_prices must give a price for {SYMBOLS}")
    prices = np.array([number(mids[s], f"state mid_prices[{s}]") for s in SYMBOLS])
    if (prices <= 0).any():
        raise UserError("invalid simulator state: mid_prices must be positive")
    return Market(
        whole_number(state["batch_index"], "state batch_index", minimum=0),
        whole_number(state["next_trade_number"], "state next_trade_number", minimum=1),
        _epoch_ms(state["clock"], "state clock"),
        prices,
    )


def state_of(market: Market) -> dict:
    return {
        "batch_index": market.batch_index,
        "next_trade_number": market.next_trade_number,
        "clock": str(iso_ms(np.array([market.clock_ms]))[0]),
        "mid_prices": dict(zip(SYMBOLS, market.mids.tolist(), strict=True)),
    }


def _epoch_ms(text: object, what: str) -> int:
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        message = f"{what} must be an ISO-8601 time like 2026-01-05T14:30:00Z, got {text!r}"
        raise UserError(message) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)
