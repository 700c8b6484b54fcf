"""Trade timestamps as exports give them: ISO-8601 with or without offset, space-separated,
epoch seconds/ms/us/ns told apart by magnitude; the instant is UTC; what names no instant is
quarantined with the rule that says why."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyspark.sql import functions as F

from financial_mlops.features.silver import (
    EPOCH_UNITS,
    TIMESTAMP_EPOCH_UNIT_KNOWN,
    checked_trades,
    event_time,
    silver_rules,
)
from tests.pipelines.features.conftest import bronze_rows, trade_line

INSTANT = datetime(2026, 1, 5, 14, 30, 7, 123000, tzinfo=UTC)
EPOCH_S = int(INSTANT.timestamp())

PARSED = {
    "2026-01-05T14:30:07.123Z": INSTANT,
    "2026-01-05T15:30:07.123+01:00": INSTANT,
    "2026-01-05T09:30:07.123-0500": INSTANT,
    "2026-01-05 14:30:07.123": INSTANT,  # no offset: UTC
    "2026-01-05T14:30:07.123": INSTANT,
    " 2026-01-05 14:30:07.123 ": INSTANT,
    "2026-01-05 14:30:07": INSTANT.replace(microsecond=0),
    "2026-01-05T14:30:07.123456789Z": INSTANT.replace(microsecond=123456),  # ns cut to us
    str(EPOCH_S): INSTANT.replace(microsecond=0),  # seconds
    f"{EPOCH_S}.123": INSTANT,  # fractional seconds
    str(EPOCH_S * 1000 + 123): INSTANT,  # milliseconds, as most exchange APIs give them
    str(EPOCH_S * 1_000_000 + 123_000): INSTANT,  # microseconds
    str(EPOCH_S * 1_000_000_000 + 123_000_999): INSTANT,  # nanoseconds, cut to us
}
UNPARSEABLE = ["yesterday", "2026", "2026-01-05", "2026-02-30 10:00:00", "2026-13-45T25:00:00Z",
               "1.767607207E12", "12345"]
NO_EPOCH_UNIT = ["50000000000",  # 1971 in ms, year 3554 in s: no unit fits
                 "99999999999999", "-1767607207000", "10000000000000000000"]


@pytest.fixture(scope="module")
def parsed(spark):
    values = [*PARSED, *UNPARSEABLE, *NO_EPOCH_UNIT]
    # A session time zone other than UTC must not move naive times: the contract says UTC.
    previous = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    try:
        rows = (spark.createDataFrame([(v,) for v in values], "t string")
                .select("t", F.unix_micros(event_time(F.col("t"))).alias("us")).collect())
    finally:
        spark.conf.set("spark.sql.session.timeZone", previous)
    return {r.t: r.us for r in rows}


def _micros(instant: datetime) -> int:
    return int(instant.timestamp()) * 1_000_000 + instant.microsecond


@pytest.mark.parametrize("text", list(PARSED))
def test_every_accepted_form_names_the_same_utc_instant(parsed, text):
    assert parsed[text] == _micros(PARSED[text])


@pytest.mark.parametrize("text", UNPARSEABLE + NO_EPOCH_UNIT)
def test_no_instant_for_text_that_names_none(parsed, text):
    assert parsed[text] is None


def test_epoch_bands_do_not_overlap_and_span_the_same_years():
    spans = []
    for _, lowest, highest, per_unit in EPOCH_UNITS:
        spans.append((lowest * per_unit, highest * per_unit))
    assert len(set(spans)) == 1  # 1973-03-03 .. 2286-11-20 in every unit
    for (_, _, high, _), (_, low, _, _) in zip(EPOCH_UNITS, EPOCH_UNITS[1:], strict=False):
        assert high < low


@settings(max_examples=8, deadline=None)
@given(st.lists(st.tuples(
    st.integers(min_value=_micros(datetime(1974, 1, 1, tzinfo=UTC)),
                max_value=_micros(datetime(2285, 1, 1, tzinfo=UTC))),
    st.sampled_from(EPOCH_UNITS)), min_size=1, max_size=40))
def test_any_instant_in_any_unit_parses_back(spark, cases):
    rows = []
    for micros, (_, _, _, per_unit) in cases:
        if per_unit >= 1:
            rows.append((str(micros // per_unit), micros // per_unit * per_unit))
        else:  # nanoseconds: cut to the microsecond
            rows.append((str(micros * 1000 + 999), micros))
    got = spark.createDataFrame(rows, "t string, expected long").select(
        F.unix_micros(event_time(F.col("t"))).alias("got"), "expected").collect()
    assert [r.got for r in got] == [r.expected for r in got]


def test_unparseable_and_unit_less_timestamps_break_their_own_rule(spark, features_params):
    lines = [trade_line(f"T{i}", timestamp=t) for i, t in enumerate(UNPARSEABLE + NO_EPOCH_UNIT)]
    lines.append(trade_line("MS", timestamp=EPOCH_S * 1000))  # a JSON number, not text
    rules = silver_rules(features_params["rules"])
    checked = checked_trades(
        bronze_rows(spark, lines, "file:/landing/t.json", "2026-01-06 09:00:00"), rules)
    broken = {r.trade_id: set(r.broken_rules) for r in checked.collect()}
    for i in range(len(UNPARSEABLE)):
        assert broken[f"T{i}"] == {"timestamp_parseable"}
    for i in range(len(UNPARSEABLE), len(UNPARSEABLE) + len(NO_EPOCH_UNIT)):
        assert broken[f"T{i}"] == {TIMESTAMP_EPOCH_UNIT_KNOWN}
    assert broken["MS"] == set()
