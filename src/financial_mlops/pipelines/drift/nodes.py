"""Drift nodes: the gold rows that arrived since the previous check, scored by the champion and
compared with the champion's reference profile, as a whole and per market segment; the check
recorded and reported; retraining started or skipped, with why; then the watermark moved."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from sklearn.metrics import average_precision_score

from financial_mlops.datasets.registry import Champion
from financial_mlops.drift_stats import compare, overall_verdict, verdict
from financial_mlops.errors import UserError
from financial_mlops.pipelines.drift.report import drift_figure, summary_markdown
from financial_mlops.profile import SEGMENT_COLUMNS, known_symbols, segment_reference

SCORE = "score"  # the score distribution's row among the features in drift_metrics
IGNORED = "ignored"  # the verdict of a feature in drift.ignored_features
WHOLE = "all"  # the segment of the statistics over the whole window
NOTHING_NEW = "nothing_new"  # the verdict of a check with too few new rows to measure
WATERMARK = "arrived_at_micros"  # the latest arrival (silver `_ingested_at`) already checked
# Column order of the drift_metrics and retraining_triggers tables (the catalog's schema DDL).
CHECK_COLUMNS = ("check_id", "checked_at", "window_start", "window_end", "window_rows",
                 "champion_version")
ARRIVAL_COLUMNS = ("arrived_rows", "arrival_start", "arrival_end")
DRIFT_METRICS_COLUMNS = (*CHECK_COLUMNS, "feature", "psi", "ks", "verdict", "check_verdict",
                         "segment", *ARRIVAL_COLUMNS)


def _timestamp(micros: int | None) -> pd.Timestamp | None:
    """A UTC wall-clock timestamp (no zone, like Spark's in a UTC session) from epoch micros."""
    return None if micros is None else pd.Timestamp(int(micros), unit="us")


def select_window(gold: DataFrame, arrivals: DataFrame, labels: DataFrame, watermark: dict,
                  drift: dict) -> tuple[pd.DataFrame, dict]:
    """The gold rows of the trades that arrived after the watermark (``window.arrival_column``
    of ``arrivals``: silver's ingestion time), with their label where one exists; at most
    ``window.max_rows`` of them, a uniform sample by trade id when more arrived.

    Arrival, not event time: a backfill, a replayed or late feed or a second market with older
    trade times is exactly what the champion is now scoring. Also returns what the window
    covers (rows arrived, their arrival and event-time spans) and the watermark to save once
    the check is recorded: unchanged when fewer than ``min_window_rows`` arrived, so a trickle
    accumulates into the next check instead of being skipped.
    """
    window = drift["window"]
    column, cap = window["arrival_column"], int(window["max_rows"])
    if cap < int(drift["min_window_rows"]):
        raise UserError(f"drift.window.max_rows={cap} is below drift.min_window_rows="
                        f"{drift['min_window_rows']}: no window could ever be checked")
    if column not in arrivals.columns:
        raise UserError(f"drift.window.arrival_column '{column}' is not a column of the arrivals "
                        f"table (it has {', '.join(arrivals.columns)})")
    since = watermark.get(WATERMARK)
    arrived = arrivals.select("trade_id", F.unix_micros(column).alias("_arrived"))
    if since is not None:
        arrived = arrived.filter(F.col("_arrived") > F.lit(int(since)))
    features = [name for name in gold.columns if name.startswith("f_")]
    keys = [name for name in ("symbol", "exchange") if name in gold.columns]
    # Gold only: a trade in silver but not yet in gold arrives for the check after its build.
    rows = (gold.select("trade_id", *keys, "event_time", *features)
            .join(arrived, "trade_id").localCheckpoint())
    span = rows.agg(F.count(F.lit(1)).alias("n"), F.min("_arrived").alias("first"),
                    F.max("_arrived").alias("last"),
                    F.min(F.unix_micros("event_time")).alias("start"),
                    F.max(F.unix_micros("event_time")).alias("end")).first()
    arrived_rows = int(span["n"])
    if arrived_rows > cap:
        # By a hash of the trade id: the same rows on a re-run, spread over every symbol and hour.
        buckets = 1 << 20
        share = F.pmod(F.xxhash64("trade_id"), F.lit(buckets)) < F.lit(buckets * cap / arrived_rows)
        rows = rows.filter(share).limit(cap)
    known = labels.select("trade_id", F.col("is_anomaly").alias("label"))
    frame = rows.join(known, "trade_id", "left").toPandas()
    frame = frame.rename(columns={"_arrived": "arrived_at"})
    enough = arrived_rows >= max(1, int(drift["min_window_rows"]))
    coverage = {
        "since": _timestamp(since),
        "arrived_rows": arrived_rows,
        "arrival_start": _timestamp(span["first"]),
        "arrival_end": _timestamp(span["last"]),
        "event_start": _timestamp(span["start"]),
        "event_end": _timestamp(span["end"]),
        "watermark": {**watermark, WATERMARK: int(span["last"])} if enough else dict(watermark),
    }
    return frame, coverage


def _recent_pr_auc(labels: pd.Series, scores: np.ndarray) -> tuple[float | None, int]:
    """PR-AUC on the labelled rows of the window, None unless both classes are there."""
    known = labels.notna().to_numpy()
    truth = labels[known].astype(int)
    if truth.nunique() < 2:
        return None, int(known.sum())
    return float(average_precision_score(truth, scores[known])), int(known.sum())


def _statistics(rows: pd.DataFrame, scores: np.ndarray, profile: dict, features: list[str],
                drift: dict) -> tuple[pd.DataFrame, str, str]:
    """PSI, KS and verdict of every feature and of the scores, and the verdict of these rows
    with why. Features in ``ignored_features`` are measured and shown but do not vote."""
    thresholds = drift["thresholds"]
    stats = pd.DataFrame(
        [(name, *compare(profile["features"][name], rows[name].to_numpy())) for name in features]
        + [(SCORE, *compare(profile["score"], scores))],
        columns=["feature", "psi", "ks"],
    )
    ignored = set(drift["ignored_features"] or ())
    stats["verdict"] = [IGNORED if name in ignored else verdict(p, k, thresholds)
                        for name, p, k in zip(stats.feature, stats.psi, stats.ks, strict=True)]
    overall, reason = overall_verdict(
        {n: v for n, v in zip(stats.feature[:-1], stats.verdict[:-1], strict=True) if v != IGNORED},
        stats.verdict.iloc[-1], int(thresholds["min_alerting_features"]))
    return stats, overall, reason


def _segments(window: pd.DataFrame, scores: np.ndarray, profile: dict, features: list[str],
              drift: dict) -> tuple[pd.DataFrame, list[dict], list[str]]:
    """The statistics of each large segment of the window (``segments.by``: symbol or exchange),
    each against that segment's own reference in the profile: one liquid, stable symbol can
    carry most rows and hide a small one that drifts, and a symbol's volume or price spread is
    not the mix of all symbols'. Only the ``max_segments`` largest with at least ``min_rows``
    rows (fewer make PSI and KS noise). Also the segments left out for want of a reference."""
    config = drift.get("segments") or {}
    by = config.get("by")
    if not by:
        return pd.DataFrame(), [], []
    if by not in SEGMENT_COLUMNS or by not in window.columns:
        raise UserError(f"drift.segments.by '{by}' is not a gold column to segment by: use one "
                        f"of {', '.join(SEGMENT_COLUMNS)} or null")
    labels = window[by].astype(str)
    sizes = labels.value_counts()
    chosen = sizes[sizes >= int(config["min_rows"])].head(int(config["max_segments"]))
    tables, summaries, unchecked = [], [], []
    for value, size in chosen.items():
        segment = f"{by}={value}"
        reference = segment_reference(profile, by, value)
        if reference is None:
            unchecked.append(segment)
            continue
        mask = (labels == value).to_numpy()
        stats, seg_verdict, reason = _statistics(window[mask], scores[mask], reference, features,
                                                 drift)
        tables.append(stats.assign(segment=segment))
        summaries.append({"segment": segment, "rows": int(size), "verdict": seg_verdict,
                          "reason": reason})
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    return table, summaries, unchecked


def _unseen_symbols(window: pd.DataFrame, profile: dict, drift: dict) -> dict:
    """Symbols of the window the champion never trained on, their share of the window's rows
    and whether that share reaches ``unseen_symbols.alert_share``."""
    trained = known_symbols(profile)
    if trained is None or "symbol" not in window.columns:
        return {"recorded": False, "symbols": [], "share": None, "alert": False}
    symbols = window["symbol"].astype(str)
    unseen = ~symbols.isin(trained)
    share = float(unseen.mean()) if len(window) else 0.0
    return {"recorded": True, "share": share,
            "symbols": symbols[unseen].value_counts().index.tolist(),
            "alert": share >= float(drift["unseen_symbols"]["alert_share"])}


def _combined_verdict(whole: str, reason: str, segments: list[dict], unseen: dict,
                      drift: dict) -> tuple[str, str]:
    """The check alerts when the whole window alerts, any segment alerts, or the unseen
    symbols' share reaches its threshold; it warns on any warning."""
    verdicts = [whole, *(s["verdict"] for s in segments)]
    parts = [reason]
    for s in segments:
        if s["verdict"] == "alert":
            parts.append(f"segment {s['segment']} ({s['rows']:,} rows) alerts: {s['reason']}")
    if unseen["symbols"]:
        names = ", ".join(unseen["symbols"][:10]) + (" ..." if len(unseen["symbols"]) > 10 else "")
        parts.append(f"{unseen['share']:.1%} of the window is in {len(unseen['symbols'])} "
                     f"symbol(s) never trained on (alert at "
                     f"{float(drift['unseen_symbols']['alert_share']):.0%}): {names}")
    if unseen["alert"] or "alert" in verdicts:
        overall = "alert"
    elif "warn" in verdicts or unseen["symbols"]:
        overall = "warn"
    else:
        overall = "ok"
    return overall, "; ".join(parts)


def check_drift(window: pd.DataFrame, coverage: dict, champion: Champion | None, drift: dict,
                after: object = None) -> dict:
    """PSI and KS of every feature of the champion and of its scores, on the whole window and
    per segment, the symbols it never trained on, and the check's verdict; recent PR-AUC
    against the champion's own test PR-AUC, on the window's rows that have a label.

    Fewer new rows than ``min_window_rows`` is the verdict ``nothing_new``, not an error: the
    statistics would be noise, and no retraining follows. The window is scored here, by the
    champion's version itself, so the scores compared with its reference are that model's,
    whatever model scored these trades when they streamed in. ``after`` only orders the check
    after an upstream stage (see ``create_pipeline``).
    """
    if champion is None or champion.version is None:  # none yet, or deployment refused it
        raise UserError("there is no @champion model to check for drift: run the tournament "
                        "and deployment pipelines first")
    check = {
        "check_id": uuid.uuid4().hex,
        "checked_at": datetime.now(UTC),
        "champion": f"{champion.name} v{champion.version}",
        "champion_version": champion.version,
        "champion_test_pr_auc": champion.test_pr_auc,
        **coverage,
        "window_start": coverage["event_start"],
        "window_end": coverage["event_end"],
        "window_rows": len(window),
    }
    minimum = int(drift["min_window_rows"])
    if coverage["arrived_rows"] < minimum:
        since = "ever" if coverage["since"] is None else (
            f"since {pd.Timestamp(coverage['since']):%Y-%m-%d %H:%M:%S} UTC")
        arrived = coverage["arrived_rows"]
        reason = f"nothing new arrived {since}" if arrived == 0 else (
            f"{arrived:,} gold rows arrived {since}, fewer than drift.min_window_rows="
            f"{minimum}: they count toward the next check")
        return {**check, "verdict": NOTHING_NEW, "reason": reason,
                "stats": pd.DataFrame(columns=["segment", "feature", "psi", "ks", "verdict"]),
                "segments": [], "unchecked_segments": [],
                "unseen": {"recorded": False, "symbols": [], "share": None, "alert": False},
                "recent_pr_auc": None, "labelled_rows": 0, "scores": None}
    features = list(champion.profile["features"])
    missing = sorted(set(features) - set(window.columns))
    if missing:
        raise UserError(f"gold_trade_features lacks the champion's features {missing}")
    scores = champion.model.predict(window[features])["score"].to_numpy(dtype=float)
    if not np.isfinite(scores).all():
        raise UserError(f"the champion {champion.name} v{champion.version} returned "
                        f"{(~np.isfinite(scores)).sum()} non-finite scores: roll it back")
    stats, whole, reason = _statistics(window, scores, champion.profile, features, drift)
    segment_stats, segments, unchecked = _segments(window, scores, champion.profile, features,
                                                   drift)
    unseen = _unseen_symbols(window, champion.profile, drift)
    overall, reason = _combined_verdict(whole, reason, segments, unseen, drift)
    pr_auc, labelled = _recent_pr_auc(window["label"], scores)
    return {
        **check,
        "stats": pd.concat([stats.assign(segment=WHOLE), segment_stats], ignore_index=True),
        "segments": segments,
        "unchecked_segments": unchecked,
        "unseen": unseen,
        "verdict": overall,
        "reason": reason,
        "recent_pr_auc": pr_auc,
        "labelled_rows": labelled,
        "scores": {"reference": champion.profile["score"]["sample"], "recent": scores},
    }


def report_drift(check: dict, drift: dict) -> tuple[pd.DataFrame, Figure, str, dict, dict]:
    """Everything that records the check: its ``drift_metrics`` rows (per segment, ``all`` for
    the whole window; none when nothing new arrived), the PNG and markdown report and MLflow
    metrics, and the outcome the retraining decision reads. The decision takes that outcome,
    so the check is recorded before any retraining can start."""
    rows = check["stats"].assign(
        **{name: check[name] for name in (*CHECK_COLUMNS, *ARRIVAL_COLUMNS)},
        check_verdict=check["verdict"],
    )[list(DRIFT_METRICS_COLUMNS)]
    whole = check["stats"][check["stats"]["segment"] == WHOLE]
    metrics = {
        **{f"{stat}.{r.feature}": {"value": getattr(r, stat), "step": 0}
           for r in whole.itertuples() for stat in ("psi", "ks")},
        "alerting_features": {"value": float((whole.verdict[:-1] == "alert").sum()), "step": 0},
        "alerting_segments": {"value": float(sum(s["verdict"] == "alert"
                                                 for s in check["segments"])), "step": 0},
        "alert": {"value": float(check["verdict"] == "alert"), "step": 0},
        "nothing_new": {"value": float(check["verdict"] == NOTHING_NEW), "step": 0},
        "window_rows": {"value": float(check["window_rows"]), "step": 0},
        "arrived_rows": {"value": float(check["arrived_rows"]), "step": 0},
        **({"unseen_symbol_share": {"value": check["unseen"]["share"], "step": 0}}
           if check["unseen"]["share"] is not None else {}),
        **{name: {"value": check[name], "step": 0} for name in
           ("recent_pr_auc", "champion_test_pr_auc") if check[name] is not None},
    }
    outcome = {name: check[name] for name in
               ("check_id", "checked_at", "champion_version", "verdict", "reason", "watermark")}
    return (rows, drift_figure(check, drift["thresholds"]), summary_markdown(check), metrics,
            outcome)


def decide_retraining(
    outcome: dict, triggers: DataFrame, job_status: dict, drift: dict
) -> tuple[pd.DataFrame, dict, dict]:
    """Trigger retraining on an alert unless one is running or was triggered within the
    cooldown. Returns the decision's record for ``retraining_triggers``, the drift watermark to
    save and the request to the retraining job. Kedro saves a node's outputs in order: the
    record is durable before the watermark moves past the window's rows, and both before the
    job starts, so a concurrent or later check sees them."""
    cooldown = timedelta(hours=float(drift["retraining"]["cooldown_hours"]))
    now = outcome["checked_at"]
    triggered = triggers.filter(F.col("action") == "triggered")
    last_seconds = triggered.agg(F.max(F.col("decided_at").cast("double"))).first()[0]
    last = None if last_seconds is None else datetime.fromtimestamp(last_seconds, UTC)
    if outcome["verdict"] != "alert":
        action, reason = "not_needed", f"drift {outcome['verdict']}: {outcome['reason']}"
    elif job_status["active_runs"]:
        action, reason = "skipped", f"retraining run(s) {job_status['active_runs']} still running"
    elif last is not None and now - last < cooldown:
        action, reason = "skipped", (
            f"cooldown: retraining was triggered at {last:%Y-%m-%d %H:%M:%S} UTC, "
            f"{(now - last).total_seconds() / 60:.0f} min ago (cooldown {cooldown})")
    else:
        action, reason = "triggered", f"drift alert: {outcome['reason']}"
    record = pd.DataFrame([{
        "check_id": outcome["check_id"], "decided_at": now,
        "champion_version": outcome["champion_version"], "drift_verdict": outcome["verdict"],
        "action": action, "reason": reason,
    }])
    request = {"launch": action == "triggered", "check_id": outcome["check_id"],
               "reason": reason, "timeout_seconds": cooldown.total_seconds()}
    return record, outcome["watermark"], request
