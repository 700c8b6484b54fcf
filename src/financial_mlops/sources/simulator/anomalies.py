"""Labelled anomalies, injected as extra prints next to a normal "anchor" trade: the one
definition of each kind, shared by the simulator and the injector (``modeling.injected``).

Each kind borrows its anchor's symbol, time, venue and market, and is sized by the symbol's own
behaviour (``behaviour.measure``): price moves in units of its trade-to-trade volatility read
from its tail (scaled up in a wild stretch, ``behaviour.anchor_sigma``), block sizes in units of
its largest normal prints (its 99.9th percentile) and ordinary ones of its typical print,
spacing in units of its typical gap. So the same kind is equally visible on a $2 stock and a
$5,000 one, on a quiet symbol and a busy one, on a light-tailed market and a heavy-tailed one,
in relative features; within a symbol's normal behaviour it would not be an anomaly at all.
The everyday kinds (a single price jump, a size spike, an odd-lot off-market print, a short
momentum burst) sit next to the structured ones (volume bursts, wash trades, ramp and dump).
"""

from dataclasses import dataclass, fields

import numpy as np

from .market import draw_sizes, round_lots
from .universe import draw_venues

ANOMALY_KINDS = ("price_spike", "volume_burst", "wash_trade", "off_market_print", "ramp_and_dump",
                 "size_spike", "momentum_burst")
# Prints per event of each kind (inclusive range), in ANOMALY_KINDS order.
_LENGTHS = np.array([(1, 1), (3, 6), (2, 2), (1, 1), (5, 8), (1, 1), (3, 5)])
MAX_EVENT_SPAN_MS = 2_000  # no event lasts longer; anchors leave this much room before the close
_MAX_STEP_MS = MAX_EVENT_SPAN_MS // int(_LENGTHS.max())
_DIGIT_TYPO_SHARE = 0.3  # of price spikes that are a mistyped digit rather than a sigma jump


@dataclass(frozen=True)
class Anchors:
    """The normal trades events happen next to (one row per event), with their symbol's
    behaviour."""

    symbol: np.ndarray  # symbol number
    ts_ms: np.ndarray
    venue: np.ndarray  # venue number
    mid: np.ndarray  # the symbol's mid price at the anchor (a real market: its price)
    price: np.ndarray  # the anchor's printed price
    sigma: np.ndarray  # the symbol's trade-to-trade log-return volatility, at least its recent one
    typical_size: np.ndarray  # the symbol's typical print size
    large_size: np.ndarray  # the size of the symbol's largest normal prints (behaviour.TAIL)
    typical_gap_ms: np.ndarray  # the symbol's typical time between trades
    tick: np.ndarray  # the symbol's price increment

    def take(self, index: np.ndarray) -> "Anchors":
        return Anchors(*(getattr(self, f.name)[index] for f in fields(self)))


@dataclass(frozen=True)
class Prints:
    """Anomalous prints; `event` indexes the anchors they belong to."""

    event: np.ndarray
    offset_ms: np.ndarray
    price: np.ndarray
    volume: np.ndarray
    venue: np.ndarray


def plan_events(
    n_trades: int, rate: float, weights: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Kinds and print counts of the events, so that labelled prints are about rate * n_trades
    and each kind's share of them follows ``weights`` (a model sees as many single price jumps
    as prints of bursts)."""
    target = round(rate * n_trades)
    per_event = weights / _LENGTHS.mean(axis=1)
    kinds = rng.choice(len(ANOMALY_KINDS), size=target, p=per_event / per_event.sum())
    lengths = rng.integers(_LENGTHS[kinds, 0], _LENGTHS[kinds, 1] + 1)
    keep = np.cumsum(lengths) <= target
    return kinds[keep], lengths[keep]


def inject(anchors: Anchors, kinds: np.ndarray, lengths: np.ndarray, rng: np.random.Generator,
           *, round_price, draw_venue=draw_venues):
    """All anomalous prints of the planned events as (symbol, ts_ms, venue, price, volume, kind).

    ``round_price(prices, symbols)`` puts prices on the symbols' tick grid and
    ``draw_venue(symbols, rng)`` picks the venues of a volume burst (the simulator's own by
    default): a user's market brings its own (``financial_mlops.modeling.injected``).
    """
    parts = []
    for kind, make in enumerate(_MAKERS):
        events = np.flatnonzero(kinds == kind)
        if make is _volume_burst:
            prints = make(anchors.take(events), lengths[events], rng, draw_venue)
        else:
            prints = make(anchors.take(events), lengths[events], rng)
        parts.append((events[prints.event], prints, np.full(len(prints.event), kind)))
    event = np.concatenate([p[0] for p in parts])
    return (
        anchors.symbol[event],
        anchors.ts_ms[event] + np.concatenate([p[1].offset_ms for p in parts]),
        np.concatenate([p[1].venue for p in parts]),
        round_price(np.concatenate([p[1].price for p in parts]), anchors.symbol[event]),
        np.concatenate([p[1].volume for p in parts]),
        np.concatenate([p[2] for p in parts]),
    )


def _expand(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each print: its event and its position within the event."""
    event = np.repeat(np.arange(len(lengths)), lengths)
    starts = np.cumsum(lengths) - lengths
    return event, np.arange(len(event)) - starts[event]


def _log_move(a: Anchors, low: float, high: float, min_ticks: int, rng) -> np.ndarray:
    """A log-price move of low..high of the symbol's sigmas, never under min_ticks ticks."""
    moves = rng.uniform(low, high, len(a.mid)) * a.sigma
    return np.maximum(moves, min_ticks * a.tick / a.mid)


def _gaps_ms(a: Anchors, low: float, high: float, rng) -> np.ndarray:
    """A wait of low..high of the symbol's typical gaps, in whole ms within one event step."""
    wait = a.typical_gap_ms * rng.uniform(low, high, len(a.mid))
    return np.clip(np.round(wait), 1, _MAX_STEP_MS).astype(np.int64)


def _random_sign(n: int, rng) -> np.ndarray:
    return rng.choice(np.array([-1.0, 1.0]), n)


def _mistyped_digit(price: np.ndarray, rng) -> np.ndarray:
    """The price with its units digit (tenths, cents for cheap names) typed wrong."""
    place = np.where(price >= 10, 1.0, np.where(price >= 1, 0.1, 0.01))
    digit = np.floor(price / place + 1e-9) % 10
    typed = (digit + rng.integers(1, 10, len(price))) % 10
    return price + (typed - digit) * place


def _single_prints(a: Anchors, price: np.ndarray, volume: np.ndarray, rng) -> Prints:
    """One print per event at `price`, on the anchor's venue soon after it."""
    n = len(price)
    return Prints(np.arange(n), _gaps_ms(a, 0.05, 0.5, rng), price, volume, a.venue)


def _price_spike(a: Anchors, lengths, rng) -> Prints:
    """Single price jump (fat finger): one print 12-30 sigmas off, or with a mistyped digit."""
    n = len(lengths)
    move = _log_move(a, 12, 30, 5, rng)
    jumped = a.mid * np.exp(_random_sign(n, rng) * move)
    typo = _mistyped_digit(a.price, rng)
    big_enough = np.abs(np.log(typo / a.price)) >= move
    use_typo = big_enough & (rng.random(n) < _DIGIT_TYPO_SHARE)
    price = np.where(use_typo, typo, jumped)
    return _single_prints(a, price, draw_sizes(a.typical_size, rng), rng)


def _off_market_print(a: Anchors, lengths, rng) -> Prints:
    """An odd lot printed 8-20 sigmas away from where the symbol trades everywhere else."""
    n = len(lengths)
    price = a.mid * np.exp(_random_sign(n, rng) * _log_move(a, 8, 20, 3, rng))
    odd_lot = np.maximum(np.floor(a.typical_size * rng.uniform(0.05, 0.8, n)), 1)
    return _single_prints(a, price, np.where(odd_lot % 100 == 0, odd_lot + 1, odd_lot), rng)


def _size_spike(a: Anchors, lengths, rng) -> Prints:
    """One print of 2-6 times the symbol's largest normal prints, at the market's price."""
    n = len(lengths)
    price = a.mid * np.exp(a.sigma * rng.standard_normal(n))
    return _single_prints(a, price, round_lots(a.large_size * rng.uniform(2, 6, n), rng), rng)


def _wash_trade(a: Anchors, lengths, rng) -> Prints:
    """Two prints, same venue, same price, the same non-round size as large as the symbol's
    largest normal prints, a few ms apart."""
    event, position = _expand(lengths)
    size = np.ceil(a.large_size * rng.uniform(0.7, 2, len(lengths)))
    size = np.where(size % 100 == 0, size + 1, size)
    first = rng.integers(0, 200, len(lengths))
    offset = first[event] + position * rng.integers(1, 16, len(lengths))[event]
    return Prints(event, offset, a.price[event], size[event], a.venue[event])


def _volume_burst(a: Anchors, lengths, rng, draw_venue=draw_venues) -> Prints:
    """Several prints as large as the symbol's largest normal ones, across venues, each within a
    fraction of its typical gap of the one before."""
    event, _ = _expand(lengths)
    steps = _gaps_ms(a.take(event), 0.02, 0.3, rng)
    offset = _cumulative_within_event(steps, lengths)
    price = a.mid[event] * np.exp(a.sigma[event] * rng.standard_normal(len(event)))
    size = round_lots(a.large_size[event] * rng.uniform(0.7, 2, len(event)), rng)
    return Prints(event, offset, price, size, draw_venue(a.symbol[event], rng))


def _momentum_burst(a: Anchors, lengths, rng) -> Prints:
    """A short run of ordinary-sized prints, each 3-6 sigmas further the same way, in quick
    succession on the anchor's venue."""
    event, position = _expand(lengths)
    step = (_random_sign(len(lengths), rng) * _log_move(a, 3, 6, 1, rng))[event]
    price = a.mid[event] * np.exp((position + 1) * step)
    offset = _cumulative_within_event(_gaps_ms(a.take(event), 0.05, 0.3, rng), lengths)
    return Prints(event, offset, price, draw_sizes(a.typical_size[event], rng), a.venue[event])


def _ramp_and_dump(a: Anchors, lengths, rng) -> Prints:
    """Prints stepping up 5-8 sigmas each on growing size, then one sharp drop below the start."""
    event, position = _expand(lengths)
    step = _log_move(a, 5, 8, 2, rng)[event]
    drop = _log_move(a, 10, 25, 5, rng)[event]
    is_dump = position == lengths[event] - 1
    price = a.mid[event] * np.exp(np.where(is_dump, -drop, (position + 1) * step))
    base = rng.uniform(6, 10, len(lengths))[event]
    size = round_lots(a.typical_size[event] * base * (1 + 0.5 * position), rng)
    offset = _cumulative_within_event(_gaps_ms(a.take(event), 0.1, 0.5, rng), lengths)
    return Prints(event, offset, price, size, a.venue[event])


def _cumulative_within_event(steps: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Offsets from the anchor: the running sum of each event's steps."""
    total = np.cumsum(steps)
    starts = np.cumsum(lengths) - lengths
    return total - np.repeat(total[starts] - steps[starts], lengths)


_MAKERS = (_price_spike, _volume_burst, _wash_trade, _off_market_print, _ramp_and_dump,
           _size_spike, _momentum_burst)
