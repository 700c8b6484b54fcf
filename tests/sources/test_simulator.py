"""The built-in market simulator: contract, realism, anomalies and regimes (no Spark)."""

import json
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kurtosis
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import average_precision_score
from threadpoolctl import threadpool_limits

from financial_mlops.errors import UserError
from financial_mlops.sources.simulator import ANOMALY_KINDS, simulate_batch

NEW_YORK = ZoneInfo("America/New_York")
TRADES_COLUMNS = ["trade_id", "symbol", "price", "volume", "timestamp", "exchange"]


@pytest.fixture(scope="module")
def market():
    """A bit more than one full session (Monday 2026-01-05) at default settings."""
    trades, labels, state = simulate_batch(300_000, seed=11)
    return trades, labels, state


def _local_times(trades: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(trades["timestamp"]).dt.tz_convert(NEW_YORK)


def _normal_log_returns(trades, labels) -> pd.Series:
    normal = trades[labels["is_anomaly"] == 0]
    return np.log(normal["price"]).groupby(normal["symbol"]).diff()


def test_same_seed_and_state_give_the_same_batch_and_another_seed_does_not():
    first = simulate_batch(2_000, seed=3)
    again = simulate_batch(2_000, seed=3)
    other = simulate_batch(2_000, seed=4)

    pd.testing.assert_frame_equal(first[0], again[0])
    pd.testing.assert_frame_equal(first[1], again[1])
    assert first[2] == again[2]
    assert not first[0]["price"].equals(other[0]["price"])


def test_a_batch_continues_ids_clock_and_prices_from_a_json_state():
    trades, labels, state = simulate_batch(5_000, seed=5)
    state = json.loads(json.dumps(state))
    follow, follow_labels, _ = simulate_batch(5_000, seed=5, state=state)
    replay, _, _ = simulate_batch(5_000, seed=5, state=state)

    numbers = follow["trade_id"].str.removeprefix("SIM-").astype(int)
    assert list(numbers) == list(range(5_001, 10_001))
    assert follow["trade_id"].iloc[0] == "SIM-000000005001"
    assert follow["timestamp"].iloc[0] >= trades["timestamp"].iloc[-1]
    last = trades[labels["is_anomaly"] == 0].groupby("symbol")["price"].last()
    first = follow[follow_labels["is_anomaly"] == 0].groupby("symbol")["price"].first()
    assert (np.abs(np.log(first / last)) < 0.01).all()
    pd.testing.assert_frame_equal(follow, replay)


def test_a_batch_trades_from_the_prices_in_its_state():
    _, _, state = simulate_batch(1_000, seed=5)
    state["mid_prices"]["AAPL"] = 300.0
    trades, _, after = simulate_batch(2_000, seed=5, state=state, anomaly_rate=0)

    aapl = trades.loc[trades["symbol"] == "AAPL", "price"]
    assert aapl.iloc[0] == pytest.approx(300, rel=0.005)
    assert after["mid_prices"]["AAPL"] == pytest.approx(aapl.iloc[-1], rel=0.005)


def test_trades_and_labels_follow_the_contract(market):
    trades, labels, state = market

    assert list(trades.columns) == TRADES_COLUMNS
    assert list(labels.columns) == ["trade_id", "is_anomaly", "anomaly_type"]
    assert trades["price"].dtype == np.float64 and trades["volume"].dtype == np.float64
    assert trades["trade_id"].is_unique
    assert (labels["trade_id"] == trades["trade_id"]).all()
    assert trades["timestamp"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z").all()
    assert trades["timestamp"].is_monotonic_increasing
    # On each symbol's tick grid (traits.draw_traits), 0.0001 at the finest.
    assert (np.round(trades["price"], 4) == trades["price"]).all() and (trades["price"] > 0).all()
    assert set(labels["is_anomaly"]) == {0, 1}
    normal = labels["is_anomaly"] == 0
    assert labels.loc[normal, "anomaly_type"].map(lambda kind: kind is None).all()
    assert set(labels.loc[~normal, "anomaly_type"]) == set(ANOMALY_KINDS)
    assert state["clock"] == trades["timestamp"].iloc[-1]
    json.dumps(state)


def test_symbols_have_distinct_price_levels_and_volatilities(market):
    trades, labels, _ = market
    prices = trades.groupby("symbol")["price"].median().sort_values()
    volatility = _normal_log_returns(trades, labels).groupby(trades["symbol"]).std()

    assert len(prices) >= 10 and prices.is_unique
    assert prices.iloc[0] < 5 and prices.iloc[-1] > 300
    # Trade to trade, from about a basis point to tens (traits.draw_traits).
    assert volatility.max() / volatility.min() > 10 and volatility.max() > 1e-3


def test_symbols_trade_on_many_venues_with_their_own_shares(market):
    trades, _, _ = market
    shares = pd.crosstab(trades["symbol"], trades["exchange"], normalize="index")

    assert len(shares.columns) >= 10 and any(" " in venue for venue in shares.columns)
    assert (shares[["XNAS", "XNYS", "ARCX", "BATS", "IEXG"]] > 0.05).all().all()
    assert (shares > 0).all().all()  # the long tail of small venues sees every symbol
    assert shares.loc["JPM", "XNYS"] > shares.loc["AAPL", "XNYS"] + 0.1
    assert shares.loc["AAPL", "XNAS"] > shares.loc["JPM", "XNAS"] + 0.1


def test_a_few_symbols_carry_most_prints(market):
    trades, _, _ = market
    share = trades["symbol"].value_counts(normalize=True)

    assert share.iloc[:3].sum() > 0.5
    assert share.iloc[-1] < 0.02 and share.iloc[0] > 10 * share.iloc[-1]


def test_returns_are_heavy_tailed_with_clustered_volatility(market):
    trades, labels, _ = market
    returns = _normal_log_returns(trades, labels)
    # The busy symbol whose tick is finest against its moves (a coarse tick hides clustering).
    moving = (returns != 0).groupby(trades["symbol"]).mean()
    busy = trades["symbol"].value_counts() > 10_000
    name = moving[busy[moving.index]].idxmax()
    symbol_returns = returns[trades["symbol"] == name].dropna().to_numpy()
    size = np.abs(symbol_returns)

    assert kurtosis(symbol_returns) > 3  # a normal distribution has 0
    # Large moves follow large moves: |returns| correlate with those 50 trades later.
    assert np.corrcoef(size[:-50], size[50:])[0, 1] > 0.1


def test_sizes_are_heavy_tailed_and_cluster_on_round_lots(market):
    trades, labels, _ = market
    volume = trades.loc[(labels["is_anomaly"] == 0) & (trades["symbol"] == "AAPL"), "volume"]

    assert (volume % 100 == 0).mean() > 0.4
    assert kurtosis(volume) > 3
    assert volume.max() / volume.median() >= 8
    assert (volume == np.round(volume)).all() and volume.min() >= 1


def test_intraday_activity_is_u_shaped_within_new_york_sessions(market):
    trades, _, _ = market
    local = _local_times(trades)
    minutes = (local.dt.hour * 60 + local.dt.minute) - (9 * 60 + 30)
    first_day = minutes[local.dt.date == local.dt.date.iloc[0]]
    per_half_hour = first_day.floordiv(30).value_counts().sort_index()

    assert minutes.between(0, 389).all() and (local.dt.weekday < 5).all()
    assert len(per_half_hour) == 13
    assert per_half_hour.iloc[0] > 2 * per_half_hour.iloc[6]
    assert per_half_hour.iloc[-1] > 2 * per_half_hour.iloc[6]


def test_the_clock_wraps_from_friday_close_to_monday_open():
    trades, _, _ = simulate_batch(3_000, start="2026-01-09T20:58:00Z")  # Friday 15:58 New York
    days = set(_local_times(trades).dt.strftime("%a %H"))

    assert days == {"Fri 15", "Mon 09"}
    before_open, _, _ = simulate_batch(10, start="2026-01-06T03:00:00Z")
    assert before_open["timestamp"].iloc[0] >= "2026-01-06T14:30:00.000Z"


def test_default_anomaly_rate_is_met(market):
    _, labels, _ = market
    assert labels["is_anomaly"].mean() == pytest.approx(0.005, abs=0.0005)
    assert simulate_batch(20_000, anomaly_rate=0.05)[1]["is_anomaly"].mean() == pytest.approx(
        0.05, abs=0.003
    )
    assert simulate_batch(5_000, anomaly_rate=0)[1]["is_anomaly"].sum() == 0


def test_wash_trades_are_identical_pairs_a_few_ms_apart():
    trades, labels, _ = simulate_batch(
        20_000, anomaly_rate=0.02, regime={"anomaly_mix": {"wash_trade": 1}}
    )
    washes = trades[labels["is_anomaly"] == 1].assign(ts=pd.to_datetime(trades["timestamp"]))
    pairs = washes.groupby(["symbol", "exchange", "price", "volume"])["ts"]

    assert set(labels.loc[labels["is_anomaly"] == 1, "anomaly_type"]) == {"wash_trade"}
    assert (pairs.size() == 2).all()
    assert (pairs.agg(lambda ts: ts.max() - ts.min()) <= pd.Timedelta("15ms")).all()
    assert (washes["volume"] % 100 != 0).all()


def test_normal_blocks_exist_and_volume_anomalies_are_larger_still(market):
    trades, labels, _ = market
    normal = trades[labels["is_anomaly"] == 0].groupby("symbol")["volume"]
    relative = trades["volume"] / trades["symbol"].map(normal.median())
    kinds = labels["anomaly_type"]

    assert (relative[labels["is_anomaly"] == 0] > 15).mean() > 0.001  # the odd block print
    # Against each symbol's own largest normal prints (its 99.9th percentile).
    to_largest = trades["volume"] / trades["symbol"].map(normal.quantile(0.999))
    assert to_largest[kinds == "size_spike"].min() > 1.5
    assert to_largest[kinds.isin(["volume_burst", "wash_trade"])].quantile(0.1) > 0.6


def test_a_regime_shift_raises_volatility_and_volume():
    calm_trades, calm_labels, _ = simulate_batch(30_000, seed=8)
    regime = {"volatility_multiplier": 3.0, "volume_multiplier": 2.0}
    wild_trades, wild_labels, _ = simulate_batch(30_000, seed=8, regime=regime)

    calm_vol = _normal_log_returns(calm_trades, calm_labels).groupby(calm_trades["symbol"]).std()
    wild_vol = _normal_log_returns(wild_trades, wild_labels).groupby(wild_trades["symbol"]).std()
    assert (wild_vol / calm_vol)[["AAPL", "MSFT", "TSLA", "NVDA"]].min() > 2
    calm_size = calm_trades.loc[calm_labels["is_anomaly"] == 0, "volume"].mean()
    wild_size = wild_trades.loc[wild_labels["is_anomaly"] == 0, "volume"].mean()
    assert wild_size / calm_size == pytest.approx(2, rel=0.1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_trades": 0}, "n_trades"),
        ({"n_trades": 2.5}, "n_trades"),
        ({"anomaly_rate": 0.3}, "anomaly_rate"),
        ({"anomaly_rate": -0.01}, "anomaly_rate"),
        ({"anomaly_rate": float("nan")}, "anomaly_rate"),
        ({"regime": {"volatility": 2}}, "unknown regime key"),
        ({"regime": {"volume_multiplier": -1}}, "volume_multiplier"),
        ({"regime": {"anomaly_mix": {"spoofing": 1}}}, "unknown anomaly kind"),
        ({"regime": {"anomaly_mix": {"wash_trade": -1}}}, "non-negative"),
        ({"start": "next monday"}, "start"),
        ({"state": {"clock": "2026-01-05T14:30:00Z"}}, "invalid simulator state"),
    ],
)
def test_bad_arguments_raise_a_one_line_user_error(kwargs, message):
    kwargs = {"n_trades": 100, **kwargs}
    with pytest.raises(UserError, match=message) as raised:
        simulate_batch(**kwargs)
    assert "\n" not in str(raised.value)


def test_a_state_with_missing_prices_is_refused():
    _, _, state = simulate_batch(100)
    del state["mid_prices"]["AAPL"]
    with pytest.raises(UserError, match="mid_prices"):
        simulate_batch(100, state=state)


def _event_time_features(trades: pd.DataFrame) -> pd.DataFrame:
    """Per-symbol features from earlier trades only, like the gold table's."""
    df = trades.assign(
        ts=pd.to_datetime(trades["timestamp"]),
        log_price=np.log(trades["price"]),
        log_volume=np.log(trades["volume"]),
        notional=trades["price"] * trades["volume"],
    ).sort_values(["symbol", "ts"], kind="stable")
    by = df.groupby("symbol", sort=False)

    def past(column, n, stat):
        return by[column].transform(lambda s: s.shift().rolling(n, min_periods=5).agg(stat))

    f = pd.DataFrame(index=df.index)
    f["log_return"] = by["log_price"].diff()
    f["seconds_since_previous"] = by["ts"].diff().dt.total_seconds()
    returns = df.assign(r=f["log_return"]).groupby("symbol", sort=False)["r"]
    volatility = returns.transform(lambda r: r.shift().rolling(100, min_periods=5).std())
    f["run_5_z"] = by["log_price"].diff(5) / (volatility * np.sqrt(5))  # momentum bursts
    for n in (20, 100):
        for column in ("log_price", "log_volume"):
            f[f"{column}_z{n}"] = (df[column] - past(column, n, "mean")) / past(column, n, "std")
        f[f"vwap_deviation{n}"] = df["price"] / (
            past("notional", n, "sum") / past("volume", n, "sum")
        )
    in_2s = (
        df.set_index("ts")
        .groupby("symbol", sort=False)["volume"]
        .transform(lambda s: s.rolling("2s").sum())
    )
    f["volume_2s"] = in_2s.to_numpy()
    last_per_venue = df.pivot(columns="exchange", values="price").groupby(df["symbol"]).ffill()
    other_venues = (
        last_per_venue.groupby(df["symbol"])
        .shift()
        .mask(pd.get_dummies(df["exchange"]).astype(bool))
    )
    f["other_venues_deviation"] = np.log(df["price"] / other_venues.median(axis=1))
    f["size_rank"] = by["volume"].rank(pct=True)
    return f.reindex(trades.index).replace([np.inf, -np.inf], np.nan)


@pytest.fixture(scope="module")
def features(market):
    return _event_time_features(market[0])


def test_a_rolling_z_score_rule_already_finds_the_anomalies(market, features):
    _, labels, _ = market
    score = features[["log_price_z20", "log_volume_z100"]].abs().max(axis=1).fillna(0)

    # 40x the base rate (0.005); heavy tails and normal block prints keep it well short of 1.
    assert average_precision_score(labels["is_anomaly"], score) > 0.2


def test_a_tree_model_on_event_time_features_reaches_the_tournament_bar(market, features):
    target = market[1]["is_anomaly"]
    train = np.arange(len(target)) < 0.6 * len(target)  # earlier trades train, later ones test

    model = HistGradientBoostingClassifier(
        learning_rate=0.05, max_leaf_nodes=15, early_stopping=False, random_state=0
    )
    with threadpool_limits(1):  # OpenMP threads on a busy 2-core machine cost 20x in waiting
        model.fit(features[train], target[train])
        score = model.predict_proba(features[~train])[:, 1]

    assert average_precision_score(target[~train], score) >= 0.9
    kinds = market[1]["anomaly_type"][~train].to_numpy()
    cut = np.sort(score)[-target[~train].sum()]  # as many flagged trades as there are anomalies
    # A momentum burst's first prints are single 3-6 sigma moves, common in a heavy-tailed
    # market: only the run that follows gives it away.
    bars = {kind: 0.4 if kind == "momentum_burst" else 0.75 for kind in ANOMALY_KINDS}
    for kind, bar in bars.items():
        assert (score[kinds == kind] >= cut).mean() >= bar, f"{kind} is hard to detect"
