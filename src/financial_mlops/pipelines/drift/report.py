"""The drift check for people: a PNG (PSI per feature, score distributions) and a markdown note."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

COLOURS = {"ok": "#4c9f70", "warn": "#e8a33d", "alert": "#d1495b", "ignored": "#b0b0b0"}


def _when(moment) -> str:
    return "n/a" if moment is None or pd.isna(moment) else pd.Timestamp(moment).strftime(
        "%Y-%m-%d %H:%M:%S")


def _heading(check: dict) -> str:
    return check["verdict"].upper().replace("_", " ")


def _window(check: dict) -> str:
    """What the window covered: rows checked of rows arrived, when they arrived, their trade
    times (older than the arrival for a backfill or a replayed feed)."""
    sampled = (f"{check['window_rows']:,} of {check['arrived_rows']:,} rows (sampled)"
               if check["window_rows"] < check["arrived_rows"]
               else f"{check['arrived_rows']:,} rows")
    return (f"{sampled} arrived {_when(check['arrival_start'])} → "
            f"{_when(check['arrival_end'])} UTC, trade times {_when(check['window_start'])} → "
            f"{_when(check['window_end'])} UTC")


def drift_figure(check: dict, thresholds: dict) -> Figure:
    """Left: PSI per feature, worst on top, coloured by verdict, with the warn and alert lines.
    Right: the champion's scores on its training rows against the recent window's. A check
    with nothing new to measure says so in a small figure instead."""
    if check["scores"] is None:
        figure = Figure(figsize=(8, 2.5), layout="constrained")
        figure.text(0.5, 0.5, f"Drift check {_when(check['checked_at'])} UTC: "
                    f"{_heading(check)}\n{check['reason']}\n{check['champion']}",
                    ha="center", va="center", wrap=True)
        return figure
    whole = check["stats"][check["stats"]["segment"] == "all"]
    features = whole[whole["feature"] != "score"].sort_values("psi")
    score = whole.set_index("feature").loc["score"]
    figure = Figure(figsize=(14, max(5.0, 0.35 * len(features) + 2.0)), layout="constrained")
    psi_axes, score_axes = figure.subplots(1, 2, width_ratios=[3, 2])

    psi_axes.barh(features["feature"], features["psi"],
                  color=[COLOURS[v] for v in features["verdict"]])
    for y, (psi, ks) in enumerate(zip(features["psi"], features["ks"], strict=True)):
        psi_axes.annotate(f" {psi:.3f} (KS {ks:.2f})", (psi, y), va="center", fontsize=8)
    for level, style in (("warn", "--"), ("alert", "-")):
        psi_axes.axvline(thresholds["psi"][level], color=COLOURS[level], linestyle=style,
                         label=f"PSI {level} {thresholds['psi'][level]}")
    psi_axes.set_xlim(0, 1.35 * max(features["psi"].max(), thresholds["psi"]["alert"]))
    psi_axes.set_xlabel("PSI on the reference quantile bins (recent window vs training rows)")
    psi_axes.set_ylabel("feature")
    psi_axes.set_title(f"Feature drift, whole window: {check['champion']}\n{_window(check)}",
                       fontsize=9)
    verdicts = [Patch(color=colour, label=f"verdict {name}") for name, colour in COLOURS.items()]
    psi_axes.legend(handles=[*psi_axes.get_legend_handles_labels()[0], *verdicts],
                    loc="lower right")

    reference, recent = (np.asarray(check["scores"][k], float) for k in ("reference", "recent"))
    both = np.concatenate([reference, recent])
    bins = np.linspace(*np.quantile(both, [0.005, 0.995]), 50)
    score_axes.hist(reference, bins=bins, density=True, histtype="step", linewidth=2,
                    label="reference (training rows)")
    score_axes.hist(recent, bins=bins, density=True, histtype="step", linewidth=2,
                    label="recent window")
    score_axes.set_xlabel("champion score (higher = more anomalous)")
    score_axes.set_ylabel("density")
    score_axes.set_title(f"Score distribution: PSI {score['psi']:.3f}, KS {score['ks']:.3f} "
                         f"({score['verdict']})")
    score_axes.legend()
    figure.suptitle(f"Drift check {_when(check['checked_at'])} UTC: {_heading(check)}"
                    f" ({check['reason']})", fontsize=11, wrap=True)
    return figure


def _number(value: float | None) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value:.3f}"


def _unseen(unseen: dict) -> str:
    if not unseen["recorded"]:
        return "not known (the champion's profile records no training symbols)"
    if not unseen["symbols"]:
        return "none"
    return (f"{unseen['share']:.1%} of the window, {len(unseen['symbols'])} symbol(s): "
            + ", ".join(f"`{name}`" for name in unseen["symbols"]))


def summary_markdown(check: dict) -> str:
    """The check for people. The first line keeps its form, ``# Drift check <time> UTC: OK``,
    for whatever reads it (the verdict: OK, WARN, ALERT or NOTHING NEW)."""
    lines = [
        f"# Drift check {_when(check['checked_at'])} UTC: {_heading(check)}",
        "",
        f"- Why: {check['reason']}",
        f"- Champion: {check['champion']} (test PR-AUC {_number(check['champion_test_pr_auc'])})",
    ]
    if check["scores"] is None:
        return "\n".join([*lines, f"- Check id: `{check['check_id']}`"]) + "\n"
    whole = check["stats"][check["stats"]["segment"] == "all"].sort_values("psi", ascending=False)
    lines += [
        f"- Window: {_window(check)}",
        f"- Recent PR-AUC: {_number(check['recent_pr_auc'])} "
        f"on the {check['labelled_rows']:,} labelled rows of the window",
        f"- Symbols never trained on: {_unseen(check['unseen'])}",
        f"- Check id: `{check['check_id']}`",
        "",
        "| feature | PSI | KS | verdict |",
        "|---|---:|---:|---|",
        *(f"| {r.feature} | {r.psi:.4f} | {r.ks:.4f} | {r.verdict} |"
          for r in whole.itertuples()),
    ]
    if check["segments"]:
        lines += ["", "## Segments", "", "| segment | rows | verdict | why |", "|---|---:|---|---|",
                  *(f"| {s['segment']} | {s['rows']:,} | {s['verdict']} | {s['reason']} |"
                    for s in sorted(check["segments"],
                                    key=lambda s: ("ok", "warn", "alert").index(s["verdict"]),
                                    reverse=True))]
    if check.get("unchecked_segments"):
        lines += ["", "Not checked on their own (no reference of their own in the champion's "
                  "profile: too few training rows, or a profile from before segments): "
                  + ", ".join(check["unchecked_segments"])]
    return "\n".join(lines) + "\n"
