"""Gold's features of one symbol's trades (or one time range of them, with the history before
it), computed with numpy: what each Spark task runs for a group of ``gold.trade_features``.

A trade's features read the trades of its symbol before it, in event-time order: a symbol is a
sequence, and vector arithmetic over that sequence does in one pass what Spark's window
functions do in several sorted passes over wide rows (docs/features.md, "Where the time goes").

Every sum is a function of the values it adds alone, never of where the group starts: sums over
the previous N trades add the same N values in the same order, and sums over the last seconds
are differences of exact running sums of whole ``1 / UNITS``. So a trade gets bit-identical
features whether its symbol is computed whole, in time ranges, or from a history tail in an
incremental run.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MICROS = 1_000_000
BPS = 10_000.0  # returns and deviations in basis points
FLAT = 1e-6  # a std under this fraction of the mean is rounding noise
UNITS = 1e9  # sums over the last seconds add logs as whole 1e-9ths, in int64
RUN_TRADES = 5  # trades of a momentum run (f_run_z_5); within history_needed's window
BURST_TRADES = 3  # prints of a burst (f_burst_*_3): this one and the two before it


@dataclass(frozen=True)
class GoldSpec:
    """Gold's parameters, as each group's computation needs them."""

    windows: tuple[int, ...]  # sorted
    cross_exchange_seconds: int

    @property
    def feature_names(self) -> list[str]:
        """Gold's ``f_*`` columns, in table order."""
        names = ["f_abs_return_bps", "f_gap_ratio"]
        for n in self.windows:
            names += [f"f_abs_price_z_{n}", f"f_abs_price_dev_bps_{n}", f"f_abs_return_z_{n}",
                      f"f_log_volume_rel_{n}", f"f_log_volume_z_{n}", f"f_volume_ratio_{n}",
                      f"f_abs_vwap_dev_bps_{n}"]
        return names + [f"f_abs_run_z_{RUN_TRADES}", f"f_burst_log_volume_z_{BURST_TRADES}",
                        f"f_burst_gap_ratio_{BURST_TRADES}", f"f_size_rank_{self.windows[0]}",
                        "f_abs_cross_exchange_dev_bps"]


def features_by_group(batches: Iterable[pa.RecordBatch], spec: GoldSpec, keys: Sequence[str]
                      ) -> Iterator[pa.RecordBatch]:
    """``symbol_features`` of each (``symbol``, ``_range``) group of a Spark task's rows, which
    arrive sorted by group in Arrow batches; a group may span several batches."""
    pending: list[pa.RecordBatch] = []  # the rows read so far of the group being read
    for batch in batches:
        if batch.num_rows == 0:
            continue
        starts = _group_starts(batch)
        for k, (start, end) in enumerate(zip([0, *starts], [*starts, batch.num_rows],
                                             strict=True)):
            rows = batch.slice(start, end - start)
            if pending and (k > 0 or not _same_group(pending[-1], rows)):
                yield symbol_features(_joined(pending), spec, keys)
                pending = []
            pending.append(rows)
    if pending:
        yield symbol_features(_joined(pending), spec, keys)


def _group_starts(batch: pa.RecordBatch) -> list[int]:
    """Rows of ``batch`` where a new (``symbol``, ``_range``) group begins, the first aside."""
    symbol, n = batch.column("symbol"), batch.num_rows
    if _same_group(batch.slice(n - 1), batch):  # sorted by group: the usual batch is one
        return []
    changed = pc.not_equal(symbol.slice(1), symbol.slice(0, n - 1)).to_numpy(zero_copy_only=False)
    changed |= np.diff(batch.column("_range").to_numpy()) != 0
    return (np.flatnonzero(changed) + 1).tolist()


def _same_group(before: pa.RecordBatch, after: pa.RecordBatch) -> bool:
    return all(before.column(key)[-1].as_py() == after.column(key)[0].as_py()
               for key in ("symbol", "_range"))


def _joined(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    """One batch of contiguous arrays from a group's slices of several batches."""
    if len(batches) == 1:
        return batches[0]
    return pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


def symbol_features(trades: pa.RecordBatch, spec: GoldSpec, keys: Sequence[str]
                    ) -> pa.RecordBatch:
    """``keys`` and every ``f_*`` feature (finite doubles) of the rows of ``trades`` marked
    ``_own``, from all of its rows (one symbol's, with ``_t`` in microseconds and
    ``trade_id``, which orders trades at the same microsecond). Arrow in and out: the text
    columns pass through as they came, never made Python strings."""
    if not _in_order(trades.column("_t").to_numpy(), trades.column("trade_id")):
        trades = trades.take(pc.sort_indices(
            trades, sort_keys=[("_t", "ascending"), ("trade_id", "ascending")]))
    features = _features(trades, spec)
    own = trades.column("_own").to_numpy(zero_copy_only=False)
    whole = bool(own.all())
    rows = trades if whole else trades.filter(pa.array(own))
    columns = [rows.column(key) for key in keys]
    for value, neutral in features.values():
        finite = np.where(np.isfinite(value), value, neutral)
        columns.append(pa.array(finite if whole else finite[own]))
    return pa.RecordBatch.from_arrays(columns, names=[*keys, *features])


def _in_order(t: np.ndarray, trade_id: pa.Array) -> bool:
    """Whether rows are in (event time, trade_id) order, as Spark's sort delivers them."""
    step = np.diff(t)
    if (step < 0).any():
        return False
    tied = np.flatnonzero(step == 0)  # only these ids are compared
    if not len(tied):
        return True
    return bool(pc.all(pc.less_equal(trade_id.take(tied), trade_id.take(tied + 1))).as_py())


def _features(trades: pa.RecordBatch, spec: GoldSpec) -> dict[str, tuple[np.ndarray, float]]:
    """Every feature with its neutral value (taken where history is too short, or where a
    division has nothing to divide by), mirroring SQL semantics: ``_div`` is ``try_divide``."""
    t = trades.column("_t").to_numpy().astype(np.int64, copy=False)
    price = trades.column("price").to_numpy().astype(np.float64, copy=False)
    volume = trades.column("volume").to_numpy().astype(np.float64, copy=False)
    windows = spec.windows
    longest = windows[-1]
    position = np.arange(1, len(t) + 1, dtype=np.float64)
    seconds = t.astype(np.float64)  # microseconds since 1970 are exact in a double
    prev_t = _lag(seconds, 1)
    # The symbol's typical gap: the span of its previous `longest` gaps (from its first trade
    # while fewer came before).
    span_start = _lag(seconds, longest + 1)
    span_start[:longest + 1] = seconds[0]
    typical_gap = _div(prev_t - span_start, np.minimum(position - 2, longest))
    log_price, log_volume = np.log(price), np.log(volume)
    returned = log_price - _lag(log_price, 1)
    returned[:1] = 0.0
    sums = _window_sums({"price": price, "price_squares": price * price, "volume": volume,
                         "notional": price * volume, "log_volume": log_volume,
                         "log_volume_squares": log_volume * log_volume,
                         "return_squares": returned * returned}, windows)

    # Price moves and deviations enter as magnitudes (ABS): an anomaly up and one down are the
    # same event to a surveillance model, and a model that learns them apart learns each from
    # half the examples (docs/features.md).
    features = {"f_abs_return_bps": (np.abs(returned) * BPS, 0.0),
                "f_gap_ratio": (_div(seconds - prev_t, typical_gap), 1.0)}
    for n in windows:
        count = np.minimum(position - 1, n)
        price_mean = _div(sums["price", n], count)
        price_std = _std(sums["price", n], sums["price_squares", n], count, relative=True)
        features[f"f_abs_price_z_{n}"] = (np.abs(_div(price - price_mean, price_std)), 0.0)
        features[f"f_abs_price_dev_bps_{n}"] = (np.abs(_div(price, price_mean) - 1) * BPS, 0.0)
        # A return in units of the symbol's own recent trade-to-trade moves (their RMS).
        return_rms = np.sqrt(_div(sums["return_squares", n], count))
        features[f"f_abs_return_z_{n}"] = (np.abs(_div(returned, return_rms)), 0.0)
        # The print's size relative to the symbol's typical size (geometric mean), in logs.
        log_rel = log_volume - _div(sums["log_volume", n], count)
        log_std = _std(sums["log_volume", n], sums["log_volume_squares", n], count,
                       relative=False)
        features[f"f_log_volume_rel_{n}"] = (log_rel, 0.0)
        features[f"f_log_volume_z_{n}"] = (_div(log_rel, log_std), 0.0)
        features[f"f_volume_ratio_{n}"] = (_div(volume * count, sums["volume", n]), 1.0)
        vwap = _div(sums["notional", n], sums["volume", n])
        features[f"f_abs_vwap_dev_bps_{n}"] = (np.abs(_div(price, vwap) - 1) * BPS, 0.0)
    # A short run of trades all moving the same way: the log move over the last RUN_TRADES
    # returns in units of the symbol's volatility over that many trades (momentum bursts).
    known = np.minimum(position - 1, longest)
    run = log_price - _lag(log_price, RUN_TRADES)
    run_rms = np.sqrt(_div(sums["return_squares", longest] * RUN_TRADES, known))
    features[f"f_abs_run_z_{RUN_TRADES}"] = (np.abs(_div(run, run_rms)), 0.0)
    # A burst: the last BURST_TRADES prints (this one and those just before it) large together
    # and close together. Their mean log size against the symbol's typical one (over the
    # previous `longest` trades), in units of its log sizes' std; and the time they span
    # against the symbol's typical gap. One large print among ordinary ones moves the mean by
    # a third; several in quick succession, on any venues, move it all the way.
    burst_log_size = log_volume.copy()
    for k in range(1, BURST_TRADES):
        burst_log_size += _lag(log_volume, k)
    typical_log_size = _div(sums["log_volume", longest], known)
    log_size_std = _std(sums["log_volume", longest], sums["log_volume_squares", longest], known,
                        relative=False)
    features[f"f_burst_log_volume_z_{BURST_TRADES}"] = (
        _div(burst_log_size / BURST_TRADES - typical_log_size, log_size_std), 0.0)
    features[f"f_burst_gap_ratio_{BURST_TRADES}"] = (
        _div(seconds - _lag(seconds, BURST_TRADES - 1), (BURST_TRADES - 1) * typical_gap), 1.0)
    features[f"f_size_rank_{windows[0]}"] = (_size_rank(volume, windows[0], position), 0.5)
    features["f_abs_cross_exchange_dev_bps"] = (
        np.abs(_cross_venue_deviation(t, log_price, trades.column("exchange"),
                                      spec.cross_exchange_seconds)), 0.0)
    return features


def _cross_venue_deviation(t: np.ndarray, log_price: np.ndarray, exchange: pa.Array,
                           seconds: int) -> np.ndarray:
    """The trade's log price against the other venues' mean log price (their geometric mean)
    over the ``seconds`` before it, in basis points: all venues' sums minus its own venue's,
    so no venue list is needed."""
    low, high = t - seconds * MICROS, t - 1
    all_count, all_sum = _between(t, low, high, log_price)
    venue_count, venue_sum = np.empty_like(all_count), np.empty_like(all_sum)
    codes = pc.dictionary_encode(exchange).indices.to_numpy()
    order = np.argsort(codes, kind="stable")  # by venue, each still in time order
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    for rows in np.split(order, bounds):
        venue_count[rows], venue_sum[rows] = _between(t[rows], low[rows], high[rows],
                                                      log_price[rows])
    others = _div(all_sum - venue_sum, all_count - venue_count)
    return (log_price - others) * BPS


def _between(t: np.ndarray, low: np.ndarray, high: np.ndarray, values: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """Count and sum of ``values`` over the rows whose time lies in ``[low, high]`` (``t`` in
    order), from a running sum of the values in whole ``1 / UNITS``: exact, so the same rows
    give the same sum wherever the running sum started."""
    start = np.searchsorted(t, low, "left")
    end = np.searchsorted(t, high, "right")
    running = np.concatenate([[0], np.cumsum(np.round(values * UNITS).astype(np.int64))])
    return (end - start).astype(np.float64), (running[end] - running[start]) / UNITS


def _window_sums(values: dict[str, np.ndarray], windows: Sequence[int]
                 ) -> dict[tuple[str, int], np.ndarray]:
    """Sum of each value over the previous N trades, for each window N: sums of blocks of
    ``gcd(windows)`` trades added up, every row's from the same values in the same order.
    NaN for a symbol's first trade, which has none before it."""
    block = math.gcd(*windows)
    result = {}
    for name, value in values.items():
        block_sum = np.zeros_like(value)
        for k in range(1, block + 1):  # the previous `block` trades, nearest first
            block_sum[k:] += value[:-k]
        for n in windows:
            total = block_sum.copy()
            for k in range(1, n // block):
                total[k * block:] += block_sum[:-k * block]
            total[:1] = np.nan
            result[name, n] = total
    return result


def _size_rank(volume: np.ndarray, n: int, position: np.ndarray) -> np.ndarray:
    """Mid-rank of the trade's volume among the previous ``n`` trades' volumes, in [0, 1]."""
    below, equal = np.zeros_like(volume), np.zeros_like(volume)
    for k in range(1, n + 1):
        below[k:] += volume[:-k] < volume[k:]
        equal[k:] += volume[:-k] == volume[k:]
    return _div(below + 0.5 * equal, np.minimum(position - 1, n))


def _std(total: np.ndarray, squares: np.ndarray, count: np.ndarray, *, relative: bool
         ) -> np.ndarray:
    """Sample standard deviation from a window's sum and sum of squares. Where all values are
    equal, rounding leaves a residue near 1e-8 of the mean (prices vary little around a large
    mean); under ``FLAT`` times the mean the window counts as flat, std 0. Logs
    (``relative=False``) sit near 0, so their residue is judged in absolute terms."""
    variance = _div(squares - _div(total * total, count), count - 1)
    std = np.sqrt(np.fmax(variance, 0.0))
    floor = np.abs(_div(total, count)) * FLAT if relative else FLAT
    with np.errstate(invalid="ignore"):
        return np.where(std > floor, std, 0.0)


def _lag(values: np.ndarray, k: int) -> np.ndarray:
    """The value ``k`` rows before (NaN where there is none)."""
    lagged = np.full(len(values), np.nan)
    if k < len(values):
        lagged[k:] = values[:-k]
    return lagged


def _div(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    """``a / b``, NaN where ``b`` is 0 (SQL's ``try_divide`` gives null there), NaN in, NaN
    out. A bare division would give infinities that later arithmetic turns finite."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    result = np.full(a.shape, np.nan)
    np.divide(a, b, out=result, where=b != 0)
    return result
