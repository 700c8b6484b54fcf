"""Silver and quarantine from a corpus of bad and awkward bronze rows: every row lands in
exactly one of them, each rejected row with the names of the rules it broke."""

from __future__ import annotations

import math

import pytest

from financial_mlops.features.silver import SILVER_COLUMNS
from financial_mlops.pipelines.features.nodes import split_silver
from tests.pipelines.features import real_identifiers
from tests.pipelines.features.conftest import bronze_rows, silver_schema, trade_line

T0 = "2026-01-05T14:30:0"  # + one digit and "Z": trades a second apart
GOOD = [trade_line(f"G{i}", timestamp=f"{T0}{i}.000Z", price=190.0 + i) for i in range(1, 6)]

# Rejected rows, keyed as `_key` below, with the rules each one breaks.
BAD = {
    "this is not json": ("this is not json", {"record_parsed"}),
    "[1, 2]": ("[1, 2]", {"record_parsed"}),
    "": ("", {"record_parsed"}),
    "P1": (trade_line("P1", price="abc"), {"record_parsed", "price_positive_finite"}),
    "symbol=NOID": (trade_line(None, symbol="NOID"), {"trade_id_present"}),
    "symbol=EMPTYID": (trade_line("", symbol="EMPTYID"), {"trade_id_present"}),
    "S1": (trade_line("S1", symbol=None), {"symbol_present"}),
    "S2": (trade_line("S2", symbol="  "), {"symbol_present"}),
    "S3": (trade_line("S3", symbol="AA\tPL"), {"symbol_well_formed"}),       # control character
    "S4": (trade_line("S4", symbol="AA\u200bPL"), {"symbol_well_formed"}),   # zero-width space
    "S5": (trade_line("S5", symbol="X" * 33), {"symbol_well_formed"}),        # absurd length
    "S6": (trade_line("S6", symbol="AAPL\ufffd"), {"symbol_well_formed"}),   # mis-decoded text
    "E1": (trade_line("E1", exchange=None), {"exchange_present"}),
    "E2": (trade_line("E2", exchange="X" * 500), {"exchange_well_formed"}),
    "E3": (trade_line("E3", exchange="NASDAQ\nBX"), {"exchange_well_formed"}),
    "PZ": (trade_line("PZ", price=0), {"price_positive_finite"}),
    "PN": (trade_line("PN", price=-5.5), {"price_positive_finite"}),
    "PNAN": (trade_line("PNAN", price="NaN"), {"price_positive_finite"}),
    "PINF": (trade_line("PINF", price="Infinity"), {"price_positive_finite"}),
    "PBIG": (trade_line("PBIG", price="1e999"), {"price_positive_finite"}),
    "PNULL": (trade_line("PNULL", price=None), {"price_positive_finite"}),
    # Bare NaN / Infinity tokens are not JSON: bronze keeps such a line as not fully parsed.
    "PNANTOKEN": (trade_line("PNANTOKEN", price=math.nan),
                  {"record_parsed", "price_positive_finite"}),
    "VZ": (trade_line("VZ", volume=0), {"volume_positive_finite"}),
    "VN": (trade_line("VN", volume=-1), {"volume_positive_finite"}),
    "VNAN": (trade_line("VNAN", volume="nan"), {"volume_positive_finite"}),
    "VINF": (trade_line("VINF", volume=-math.inf), {"record_parsed", "volume_positive_finite"}),
    "PV": (trade_line("PV", price=-1, volume=0),
           {"price_positive_finite", "volume_positive_finite"}),
    "TNULL": (trade_line("TNULL", timestamp=None), {"timestamp_present"}),
    "TEMPTY": (trade_line("TEMPTY", timestamp=""), {"timestamp_present"}),
    "TWORD": (trade_line("TWORD", timestamp="yesterday"), {"timestamp_parseable"}),
    "TBAD": (trade_line("TBAD", timestamp="2026-13-45T25:00:00Z"), {"timestamp_parseable"}),
    "TYEAR": (trade_line("TYEAR", timestamp="2026"), {"timestamp_parseable"}),
    "TFUTURE": (trade_line("TFUTURE", timestamp="2999-01-01T00:00:00Z"), {"timestamp_in_range"}),
    "TPAST": (trade_line("TPAST", timestamp="1999-12-31T23:59:59Z"), {"timestamp_in_range"}),
    "ALLBAD": ('{"trade_id": "ALLBAD", "symbol": "", "price": null, "volume": -3}',
               {"symbol_present", "exchange_present", "price_positive_finite",
                "volume_positive_finite", "timestamp_present"}),
}
# Kept in silver although odd: unknown fields, an offset time, an out-of-order arrival.
ODD = [
    trade_line("U1", venue_flag="x", nested={"a": [1]}),
    trade_line("Z1", timestamp="2026-01-05T16:30:07+02:00", symbol="BRK.B", exchange="XNYS"),
    trade_line("O1", timestamp="2026-01-05T14:29:00.000Z"),
]
DUPLICATE = trade_line("D1", timestamp=f"{T0}7.000Z")
FIRST_BATCH = [*GOOD, *(line for line, _ in BAD.values()), *ODD, DUPLICATE, DUPLICATE,
               trade_line("C1", price=10.0), trade_line("C1", price=11.0)]
SECOND_BATCH = [
    DUPLICATE,                                                  # identical re-delivery
    trade_line("G1", timestamp=f"{T0}1.000Z", price=191.0, volume=999.0),  # conflicting
    trade_line("G6", timestamp=f"{T0}9.000Z"),
    trade_line("L1", timestamp="2026-01-05T14:20:00.000Z"),    # late: before everything
]


def _key(row) -> str:
    if row.trade_id:
        return row.trade_id
    return f"symbol={row.symbol}" if row.symbol else row.raw_record


def _split(spark, features_params, lines, source, ingested_at, existing):
    bronze = bronze_rows(spark, lines, source, ingested_at)
    silver, quarantine, _ = split_silver(bronze, existing, {}, features_params)
    return bronze, silver.cache(), quarantine.cache()


@pytest.fixture(scope="module")
def first(spark, features_params):
    empty_silver = spark.createDataFrame([], silver_schema())
    return _split(spark, features_params, FIRST_BATCH, "file:/landing/a.json",
                  "2026-01-06 09:00:00", empty_silver)


def test_every_bad_row_is_quarantined_with_exactly_its_broken_rules(first):
    bronze, silver, quarantine = first
    assert bronze.count() == len(FIRST_BATCH)
    assert silver.count() + quarantine.count() == bronze.count()

    reasons = {}
    for row in quarantine.filter("trade_id IS NULL OR trade_id NOT IN ('D1', 'C1')").collect():
        reasons[_key(row)] = set(row.broken_rules)
        assert row.raw_record is not None  # always the record as delivered
    assert reasons == {key: rules for key, (_, rules) in BAD.items()}
    unparsed = quarantine.filter("array_contains(broken_rules, 'record_parsed')").collect()
    assert {r.raw_record for r in unparsed} == {
        "this is not json", "[1, 2]", "", BAD["P1"][0], BAD["PNANTOKEN"][0], BAD["VINF"][0]}

    kept = {r.trade_id for r in silver.collect()}
    assert kept == {"G1", "G2", "G3", "G4", "G5", "U1", "Z1", "O1", "D1", "C1"}
    assert silver.columns == list(SILVER_COLUMNS)
    z1 = silver.filter("trade_id = 'Z1'").first()
    assert z1.event_time.isoformat() == "2026-01-05T14:30:07"  # the +02:00 offset applied


def test_copies_within_a_batch_keep_one_row_and_quarantine_the_rest(first):
    _, silver, quarantine = first
    dups = {(r.trade_id, tuple(r.broken_rules))
            for r in quarantine.filter("trade_id IN ('D1', 'C1')").collect()}
    assert dups == {("D1", ("duplicate_identical",)), ("C1", ("duplicate_conflicting",))}
    assert silver.filter("trade_id IN ('D1', 'C1')").count() == 2


def test_redeliveries_in_a_later_batch_are_quarantined_and_first_copy_stays(
        spark, features_params, first):
    _, first_silver, first_quarantine = first
    bronze, silver, quarantine = _split(spark, features_params, SECOND_BATCH,
                                        "file:/landing/b.json", "2026-01-06 10:00:00",
                                        first_silver)
    assert silver.count() + quarantine.count() == bronze.count() == 4
    assert {r.trade_id for r in silver.collect()} == {"G6", "L1"}
    assert {(r.trade_id, r.broken_rules[0]) for r in quarantine.collect()} == {
        ("D1", "duplicate_identical"), ("G1", "duplicate_conflicting")}
    # The first-seen G1 is the one in silver; the conflicting copy keeps its own content.
    assert first_silver.filter("trade_id = 'G1'").first().volume == 100.0
    assert '"volume":999.0' in quarantine.filter("trade_id = 'G1'").first().raw_record


def test_reprocessing_a_batch_after_a_crash_adds_nothing(spark, features_params, first):
    """A run that stops after writing silver repeats the batch: its rows are recognised as
    already in silver, and its quarantine rows get the same ids (their MERGE inserts nothing)."""
    _, first_silver, first_quarantine = first
    _, silver, quarantine = _split(spark, features_params, FIRST_BATCH, "file:/landing/a.json",
                                   "2026-01-06 09:00:00", first_silver)
    assert silver.count() == 0
    again = {r._record_id for r in quarantine.collect()}
    assert again == {r._record_id for r in first_quarantine.collect()}
    assert len(again) == first_quarantine.count()


def test_real_symbol_and_venue_spellings_pass_silver_normalised(spark, features_params):
    """Every spelling of the corpus lands in silver, trimmed and upper-cased (docs/features.md);
    bronze is exactly silver plus quarantine."""
    symbols, venues = real_identifiers.SYMBOLS, real_identifiers.EXCHANGES
    lines = [trade_line(f"RS{i}", symbol=raw) for i, raw in enumerate(symbols)]
    lines += [trade_line(f"RV{i}", exchange=raw) for i, raw in enumerate(venues)]
    lines.append(trade_line("BAD", exchange="NASDAQ\tBX"))
    bronze = bronze_rows(spark, lines, "file:/landing/real.json", "2026-01-06 09:00:00")
    silver, quarantine, _ = split_silver(bronze, spark.createDataFrame([], silver_schema()), {},
                                         features_params)
    rows = {r.trade_id: r for r in silver.collect()}
    assert [r.trade_id for r in quarantine.collect()] == ["BAD"]
    assert len(rows) + 1 == bronze.count()
    assert [rows[f"RS{i}"].symbol for i in range(len(symbols))] == list(symbols.values())
    assert [rows[f"RV{i}"].exchange for i in range(len(venues))] == list(venues.values())
