"""RSA bar chart in the layout of the paper's Fig. 5 (method.md §5), as a Qt-free matplotlib Figure.

One panel per ROI (rows); per model, bars for "Result (text only)" (lightseagreen), "Result (text +
images)" (paleturquoise, VLMs only) and the permuted baseline (silver), mean +- SE over participants,
participants as dots, the mean 95th percentile of the participants' nulls (dashed), and a star where the
group is significant at .05: the selection-aware group permutation p (``p_perm_group``) where there is
one, else the Wilcoxon test against the permuted mean (or the single shuffle).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

COLORS = {"text": "lightseagreen", "text+image": "paleturquoise", "baseline": "silver"}
LABELS = {"text": "Result (text only)", "text+image": "Result (text + images)",
          "baseline": "Permuted baseline"}


def rsa_bar_figure(scores: pd.DataFrame, group: pd.DataFrame, selection: str = "paper",
                   baseline: str = "permutation", ylabel: str = "Correlation (Spearman)") -> Figure:
    """Bars of the selected setting's participant rho per ROI x model x condition.

    Parameters
    ----------
    scores : ``rsa_scores`` rows (participant, roi, model, condition, rho, selected_paper/selected_cv, ...).
    group : ``rsa_group`` rows (roi, model, condition, selection, mean_null, mean_rho_shuffled, p_vs_null).
    selection : which rows of ``group`` to draw (``paper``, ``cv`` or a fixed-layer label).
    baseline : ``permutation`` draws the mean of the permutation null, ``single_shuffle`` the paper's
        single shuffle (at its own max-selected layer, as the paper).
    """
    rows = group[group["selection"] == selection]
    if rows.empty:
        rows = group[group["selection"] == group["selection"].iloc[0]]
        selection = rows["selection"].iloc[0]
    rois = list(dict.fromkeys(rows["roi"]))
    models = list(dict.fromkeys(rows["model"]))
    conditions = [c for c in ("text", "text+image") if c in set(rows["condition"])]
    fig = Figure(figsize=(max(4.0, 1.6 * len(models) + 1.5), 2.6 * len(rois)), layout="constrained")
    axes = fig.subplots(len(rois), 1, squeeze=False)[:, 0]
    width = 0.8 / (len(conditions) + 1)
    flag = {"paper": "selected_paper", "cv": "selected_cv"}.get(selection)
    for ax, roi in zip(axes, rois, strict=True):
        for m_i, model in enumerate(models):
            base = q95 = np.nan
            for c_i, cond in enumerate(conditions):
                row = rows[(rows["roi"] == roi) & (rows["model"] == model) & (rows["condition"] == cond)]
                if row.empty:
                    continue
                row = row.iloc[0]
                x = m_i - 0.4 + width * (c_i + 0.5)
                pts = _participant_values(scores, roi, model, cond, flag, row)
                ax.bar(x, row["mean_rho"], width, yerr=row["sem_rho"], color=COLORS[cond],
                       label=LABELS[cond] if m_i == 0 else None, capsize=2, edgecolor="none")
                ax.plot(np.full(len(pts), x), pts, "o", ms=2.5, color="black", alpha=0.6)
                if _significant(row):
                    top = max(row["mean_rho"] + np.nan_to_num(row["sem_rho"]), np.nanmax(pts, initial=0))
                    ax.text(x, top, "*", ha="center", va="bottom")
                # the paper's baseline uses the text+image variant for VLMs, text-only otherwise
                base = row["mean_rho_shuffled"] if baseline == "single_shuffle" else row["mean_null"]
                q95 = row.get("mean_null_q95", np.nan) if baseline != "single_shuffle" else np.nan
            xb = m_i - 0.4 + width * (len(conditions) + 0.5)
            ax.bar(xb, base, width, color=COLORS["baseline"], label=LABELS["baseline"] if m_i == 0 else None,
                   edgecolor="none")
            if np.isfinite(q95):
                ax.plot([xb - width / 2, xb + width / 2], [q95, q95], color="dimgray", lw=1.2, ls="--",
                        label="95th percentile of the null" if m_i == 0 else None)
        ax.axhline(0, color="black", lw=0.6)
        ax.set_title(str(roi), fontsize=10)
        ax.set_ylabel(ylabel)
        ax.set_xticks(range(len(models)))
        tilt = len(models) > 3
        ax.set_xticklabels(models, rotation=30 if tilt else 0, ha="right" if tilt else "center")
    axes[0].legend(fontsize=7, frameon=False, loc="best")
    fig.suptitle(f"RSA: brain vs model RDMs ({selection} layer selection)", fontsize=10)
    return fig


def _significant(row) -> bool:
    for column in ("p_perm_group", "p_vs_null", "p_vs_shuffled"):
        value = row.get(column, np.nan)
        if np.isfinite(value):
            return bool(value < 0.05)
    return False


def _participant_values(scores, roi, model, cond, flag, row) -> np.ndarray:
    s = scores[(scores["roi"] == roi) & (scores["model"] == model) & (scores["condition"] == cond)]
    if flag is not None:
        s = s[s[flag]]
    else:
        pool_ok = s["pooling"].astype(str) == str(row["pooling"])
        s = s[pool_ok & (s["layer"].astype(str) == str(row["layer"]))]
    return s["rho"].to_numpy(dtype=float)
