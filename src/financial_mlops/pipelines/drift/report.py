"""The drift check for people: a PNG (PSI per feature, score distributions) and a markdown note."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

COLOURS = {"ok": "#4c9f70", "warn": "#e8a33d", "alert": "#d1495b", "ignored": "#b0b0b0"}


def _when(moment) -> str:
    return pd.Timestamp(moment).strftime("%Y-%m-%d %H:%M:%S")


def _window(check: dict) -> str:
    return (f"{check['window_rows']:,} rows, {_when(check['window_start'])} → "
            f"{_when(check['window_end'])} UTC")


def drift_figure(check: dict, thresholds: dict) -> Figure:
    """Left: PSI per feature, worst on top, coloured by verdict, with the warn and alert lines.
    Right: the champion's scores on its training rows against the recent window's."""
    features = check["stats"][check["stats"]["feature"] != "score"].sort_values("psi")
    score = check["stats"].set_index("feature").loc["score"]
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
    psi_axes.set_title(f"Feature drift: {check['champion']}, {_window(check)}")
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
    figure.suptitle(f"Drift check {_when(check['checked_at'])} UTC: {check['verdict'].upper()}"
                    f" ({check['reason']})", fontsize=11, wrap=True)
    return figure


def _number(value: float | None) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value:.3f}"


def summary_markdown(check: dict) -> str:
    stats = check["stats"].sort_values("psi", ascending=False)
    lines = [
        f"# Drift check {_when(check['checked_at'])} UTC: {check['verdict'].upper()}",
        "",
        f"- Why: {check['reason']}",
        f"- Champion: {check['champion']} (test PR-AUC {_number(check['champion_test_pr_auc'])})",
        f"- Window: {_window(check)}",
        f"- Recent PR-AUC: {_number(check['recent_pr_auc'])} "
        f"on {check['labelled_rows']:,} labelled rows",
        f"- Check id: `{check['check_id']}`",
        "",
        "| feature | PSI | KS | verdict |",
        "|---|---:|---:|---|",
        *(f"| {r.feature} | {r.psi:.4f} | {r.ks:.4f} | {r.verdict} |"
          for r in stats.itertuples()),
    ]
    return "\n".join(lines) + "\n"
