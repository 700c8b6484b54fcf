"""The trading clock: 09:30-16:00 New York sessions on weekdays, busier near open and close.

Arrivals are a Poisson process in "business time" (expected trades since the session opened);
mapping business time back through the U-shaped cumulative intensity gives wall-clock times,
so the intraday seasonality costs one interpolation. Exchange holidays are not modelled.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

SESSION_SECONDS = 6.5 * 3600
SESSION_MS = int(SESSION_SECONDS * 1000)
TRADES_PER_SECOND = 12.0  # session average over the whole universe
TRADES_PER_SESSION = TRADES_PER_SECOND * SESSION_SECONDS
_U_SHAPE = 3.0  # intensity at open and close is (1 + _U_SHAPE) times the midday intensity
_NEW_YORK = ZoneInfo("America/New_York")
_OPEN = time(9, 30)


def _cumulative_intensity(u: np.ndarray) -> np.ndarray:
    """Share of a session's trades done by session fraction u, for intensity 1 + k(2u-1)^2."""
    return (u + _U_SHAPE * ((2 * u - 1) ** 3 + 1) / 6) / (1 + _U_SHAPE / 3)


_FRACTION_GRID = np.linspace(0.0, 1.0, 65_537)
_CUMULATIVE_GRID = _cumulative_intensity(_FRACTION_GRID)


def _next_weekday(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def session_open_ms(day: date) -> int:
    """Epoch milliseconds of the 09:30 New York open on `day` (DST-aware)."""
    return int(datetime.combine(day, _OPEN, _NEW_YORK).timestamp() * 1000)


def session_position(clock_ms: int) -> tuple[date, float]:
    """The session a clock falls in (or the next one) and its business time within it."""
    day = datetime.fromtimestamp(clock_ms / 1000, UTC).astimezone(_NEW_YORK).date()
    if day.weekday() >= 5:
        return _next_weekday(day), 0.0
    elapsed_ms = clock_ms - session_open_ms(day)
    if elapsed_ms < 0:
        return day, 0.0
    if elapsed_ms >= SESSION_MS:
        return _next_weekday(day), 0.0
    fraction = _cumulative_intensity(np.array(elapsed_ms / SESSION_MS))
    return day, float(fraction) * TRADES_PER_SESSION


def arrival_times_ms(
    day: date, position: float, n_trades: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Non-decreasing epoch-ms arrival times from (day, position) and each one's session close."""
    business = position + np.cumsum(rng.exponential(1.0, n_trades))
    session_index = (business // TRADES_PER_SESSION).astype(np.int64)
    done = business / TRADES_PER_SESSION - session_index
    fraction = np.interp(done, _CUMULATIVE_GRID, _FRACTION_GRID)
    opens = [day]
    for _ in range(int(session_index[-1])):
        opens.append(_next_weekday(opens[-1]))
    open_ms = np.array([session_open_ms(d) for d in opens], dtype=np.int64)[session_index]
    elapsed = np.minimum(np.floor(fraction * SESSION_MS).astype(np.int64), SESSION_MS - 1)
    return open_ms + elapsed, open_ms + SESSION_MS
