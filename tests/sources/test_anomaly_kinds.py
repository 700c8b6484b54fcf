"""One definition of the anomaly kinds, sized by each symbol's own behaviour, shared by the
simulator and the injector: the same kind is equally visible on any symbol, in relative terms."""

import numpy as np
import pytest

from financial_mlops.sources.simulator import ANOMALY_KINDS
from financial_mlops.sources.simulator.anomalies import Anchors, inject
from financial_mlops.sources.simulator.behaviour import anchor_sigma, measure, recent_sigma


def _anchors(level: float, sigma: float, size: float, gap_ms: float, n: int) -> Anchors:
    return Anchors(symbol=np.zeros(n, int), ts_ms=np.arange(n) * 10_000, venue=np.zeros(n, int),
                   mid=np.full(n, level), price=np.full(n, level), sigma=np.full(n, sigma),
                   typical_size=np.full(n, size), large_size=np.full(n, 20 * size),
                   typical_gap_ms=np.full(n, gap_ms),
                   tick=np.full(n, level * 1e-7))


def _relative_prints(level: float, size: float, gap_ms: float) -> dict[str, np.ndarray]:
    """Each kind's prints as (move in sigmas, size in typical sizes, offset in typical gaps)."""
    n, sigma = 400, 4e-4
    kinds = np.repeat(np.arange(len(ANOMALY_KINDS)), n // len(ANOMALY_KINDS))
    lengths = np.array([1, 4, 2, 1, 6, 1, 4])[kinds]
    anchors = _anchors(level, sigma, size, gap_ms, len(kinds))
    _, _, _, price, volume, kind = inject(anchors, kinds, lengths, np.random.default_rng(5),
                                           draw_venue=lambda s, rng: np.zeros(len(s), int),
                                           round_price=lambda p, _: p)
    return {name: np.c_[np.log(price[kind == k] / level) / sigma, volume[kind == k] / size]
            for k, name in enumerate(ANOMALY_KINDS)}


def test_a_two_dollar_and_a_five_thousand_dollar_symbol_get_the_same_relative_anomalies():
    cheap = _relative_prints(level=2.0, size=5000, gap_ms=200)
    dear = _relative_prints(level=5000.0, size=5, gap_ms=200)
    for kind in ANOMALY_KINDS:
        moves_cheap, moves_dear = cheap[kind][:, 0], dear[kind][:, 0]
        if kind == "price_spike":  # a mistyped digit is a bigger jump on a cheap name
            assert (np.abs(moves_cheap) >= 12).all() and (np.abs(moves_dear) >= 12).all()
        else:
            np.testing.assert_allclose(moves_cheap, moves_dear, atol=1e-6, err_msg=kind)
        # Sizes in typical sizes agree up to whole-share rounding of the dear symbol's 5 shares.
        assert np.median(cheap[kind][:, 1]) == pytest.approx(np.median(dear[kind][:, 1]), rel=0.25)


def test_each_kind_has_its_own_signature_in_sigmas_and_typical_sizes():
    prints = _relative_prints(level=50.0, size=100, gap_ms=500)
    move = {k: np.abs(v[:, 0]) for k, v in prints.items()}
    size = {k: v[:, 1] for k, v in prints.items()}
    assert np.median(move["price_spike"]) >= 12 and np.median(size["price_spike"]) < 3
    assert (move["off_market_print"] >= 8).all() and (size["off_market_print"] < 1).all()
    # Sizes against the symbol's largest normal prints (20 typical sizes here).
    assert (size["size_spike"] >= 2 * 20 * 0.99).all() and np.median(move["size_spike"]) < 2
    assert (size["volume_burst"] >= 0.7 * 20 * 0.99).all()
    assert (size["wash_trade"] >= 0.7 * 20).all()
    assert move["momentum_burst"].max() >= 4 * 3  # four steps of 3-6 sigmas, the same way


def test_offsets_follow_the_symbols_typical_gap():
    def offsets(gap_ms: float) -> np.ndarray:
        anchors = _anchors(10.0, 1e-3, 100, gap_ms, 200)
        _, ts, _, _, _, _ = inject(anchors, np.zeros(200, int), np.ones(200, int),
                                   np.random.default_rng(1), round_price=lambda p, _: p)
        return np.sort(ts) - anchors.ts_ms

    busy, quiet = offsets(20), offsets(2_000)
    assert np.median(quiet) > 20 * np.median(busy)


def test_behaviour_is_measured_the_same_way_at_any_price_and_size_level():
    rng = np.random.default_rng(0)
    n = 2000
    symbol = np.repeat([0, 1], n)
    moves = np.tile(rng.standard_normal(n) * 5e-4, 2)
    price = np.exp(np.cumsum(moves)) * np.repeat([2.0, 5000.0], n)
    volume = np.tile(rng.lognormal(0, 1, n), 2) * np.repeat([5000, 5], n)
    ts_ms = np.tile(np.cumsum(rng.integers(1, 400, n)), 2)
    behaviour = measure(symbol, ts_ms, price, volume, 3)
    assert behaviour.sigma[0] == pytest.approx(behaviour.sigma[1], rel=1e-6)
    assert behaviour.sigma[0] == pytest.approx(5e-4, rel=0.15)
    assert behaviour.typical_size[0] / behaviour.typical_size[1] == pytest.approx(1000)
    assert behaviour.large_size[0] / behaviour.large_size[1] == pytest.approx(1000)
    assert behaviour.large_size[0] > 10 * behaviour.typical_size[0]  # lognormal(0, 1)'s tail
    assert behaviour.typical_gap_ms[0] == behaviour.typical_gap_ms[1] == pytest.approx(200, 0.1)
    assert np.isnan(behaviour.sigma[2])  # a symbol without trades measures nothing


def test_recent_volatility_is_read_from_the_symbols_own_last_trades():
    """A symbol calm for 1000 trades, then wild for 200, next to another symbol: an anchor in the
    wild stretch reads its wild moves, one in the calm stretch the calm ones, and the other
    symbol's trades (interleaved in time) never count."""
    rng = np.random.default_rng(3)
    calm, wild = rng.standard_normal(1000) * 1e-4, rng.standard_normal(200) * 1e-3
    price = np.exp(np.cumsum(np.r_[calm, wild])) * 50.0
    other = np.exp(np.cumsum(rng.standard_normal(1200) * 1e-2)) * 3.0
    symbol = np.tile([0, 1], 1200)  # interleaved: rows alternate between the two symbols
    prices = np.empty(2400)
    prices[symbol == 0], prices[symbol == 1] = price, other
    at = np.array([2 * 900, 2 * 1150, 0])  # symbol 0's 900th and 1150th trades, and its first
    sigma = recent_sigma(symbol, prices, at)
    assert sigma[0] == pytest.approx(1e-4, rel=0.2)
    assert sigma[1] == pytest.approx(1e-3, rel=0.2)
    assert np.isnan(sigma[2])  # no return before a symbol's first trade
    # Anomalies are sized by the symbol's sigma, scaled up in a wild stretch only.
    whole = measure(np.zeros(1200, int), np.arange(1200), price, np.ones(1200), 1)
    sized = anchor_sigma(whole, np.zeros(1200, int), price, np.array([900, 1150]))
    assert sized[0] == whole.sigma[0]
    assert sized[1] > 2 * sized[0]


def test_a_heavy_tailed_symbols_sigma_is_worth_more_than_its_rms():
    """Two symbols with the same RMS move: Gaussian, and Student-t with 3 degrees of freedom,
    whose largest moves are far more sigmas out. A sigma is read from the tail where it is
    heavier, so "12 sigmas" is as far beyond each symbol's own largest moves."""
    rng = np.random.default_rng(4)
    n = 20_000
    gaussian = rng.standard_normal(n)
    heavy = rng.standard_t(3, n) / np.sqrt(3)
    symbol = np.repeat([0, 1], n)
    price = 50 * np.exp(np.cumsum(np.r_[gaussian, heavy] * 1e-4))
    behaviour = measure(symbol, np.tile(np.arange(n), 2), price, np.ones(2 * n), 2)
    assert behaviour.sigma[0] == pytest.approx(behaviour.rms[0], rel=0.1)
    assert behaviour.sigma[1] > 2 * behaviour.rms[1]
    beyond = [np.mean(np.abs(moves) * 1e-4 > 8 * behaviour.sigma[s])
              for s, moves in enumerate((gaussian, heavy))]
    assert beyond[0] == 0 and beyond[1] < 1e-3  # 8 sigmas: beyond nearly all normal moves
    assert np.mean(np.abs(heavy) * 1e-4 > 8 * behaviour.rms[1]) > 3 * beyond[1]
