"""Encoding figures (Qt-free matplotlib ``Figure`` objects, no pyplot state): Fig. 3 whole-brain
scatter, Fig. 4 quartile line plots, Fig. 12 quartile heatmaps, layer curves."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

#: ROI colours of the paper's Fig. 3 (ROI 1 pink, ROI 2 blue, ROI 3 green); other areas grey.
ROI_COLOURS = {1: "#EE1289", 2: "#00bfff", 3: "#90ee90"}
#: the paper's ROI areas (method.md §2.4), left hemisphere
ROI_AREAS = {
    1: ("L_A5", "L_STSdp", "L_TPOJ1", "L_TPOJ2"),
    2: ("L_IFSa", "L_45", "L_FOP5"),
    3: ("L_TE2p", "L_PH"),
}


def paradigm_order(values) -> list:
    """Distinct paradigms in the paper's order (sentences, pictures, word clouds), others after."""
    from core.data.concepts import PARADIGMS

    seen = list(dict.fromkeys(values))
    rank = {p: i for i, p in enumerate(PARADIGMS)}
    return sorted(seen, key=lambda p: (rank.get(p, len(rank)), seen.index(p)))


def _roi_of(area: str) -> int:
    base = area.removesuffix("_ROI")
    for roi, names in ROI_AREAS.items():
        if base in names:
            return roi
    return 0


def wholebrain_scatter(
    table: pd.DataFrame,
    correlations: pd.DataFrame | None = None,
    x: str = "consistency",
    y: str = "mean_r",
    yerr: str = "sem_r",
    xlabel: str = "semantic consistency",
    ylabel: str = "mean LM predictivity (Pearson r)",
) -> Figure:
    """Fig. 3 (and its Fig. 9 variants through ``x``/``y``): per paradigm, x = area consistency, y = mean
    predictivity ± SEM, ROI areas coloured, orange least-squares line, Pearson r in the title."""
    paradigms = paradigm_order(table["paradigm"]) if "paradigm" in table else ["all"]
    fig = Figure(figsize=(4.2 * len(paradigms), 4.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(paradigms), sharey=True))
    for ax, paradigm in zip(axes, paradigms, strict=True):
        sub = table[table["paradigm"] == paradigm] if "paradigm" in table else table
        sub = sub.replace([np.inf, -np.inf], np.nan).dropna(subset=[x, y])
        rois = np.array([_roi_of(a) for a in sub["area"]])
        colours = np.array([ROI_COLOURS.get(r, "0.7") for r in rois], dtype=object)
        order = np.argsort(rois > 0, kind="stable")  # ROI areas drawn on top
        xs, ys = sub[x].to_numpy()[order], sub[y].to_numpy()[order]
        err = sub[yerr].to_numpy()[order] if yerr in sub else None
        ax.errorbar(xs, ys, yerr=err, fmt="none", ecolor="0.8", elinewidth=0.6, zorder=1)
        ax.scatter(xs, ys, c=list(colours[order]), s=18, edgecolors="none", zorder=2)
        if len(xs) >= 2 and np.ptp(xs) > 0:
            slope, icept = np.polyfit(xs, ys, 1)
            grid = np.linspace(xs.min(), xs.max(), 2)
            ax.plot(grid, slope * grid + icept, color="orange", lw=1.5, zorder=3)
        title = str(paradigm).replace("_", " ")
        if correlations is not None and paradigm in set(correlations["paradigm"]):
            r = float(correlations.loc[correlations["paradigm"] == paradigm, "r"].iloc[0])
            title += f"  (r = {r:.2f})"
        ax.set_title(title)
        ax.set_xlabel(xlabel)
    axes[0].set_ylabel(ylabel)
    for roi, colour in ROI_COLOURS.items():
        axes[-1].scatter([], [], c=colour, s=18, label=f"ROI {roi}")
    axes[-1].legend(frameon=False, fontsize=8)
    return fig


def _panel(means: pd.DataFrame, roi, paradigm) -> pd.DataFrame:
    keep = means["roi"] == roi
    if "paradigm" in means:
        keep &= means["paradigm"] == paradigm
    return means[keep]


def quartile_lines(means: pd.DataFrame) -> Figure:
    """Fig. 4: rows = ROIs; per paradigm two panels: predictivity vs consistency quartile (one red line
    per language quartile) and vs language quartile (one blue line per consistency quartile)."""
    rois = sorted(means["roi"].unique())
    paradigms = list(dict.fromkeys(means["paradigm"])) if "paradigm" in means else ["all"]
    fig = Figure(figsize=(3.0 * 2 * len(paradigms), 2.6 * len(rois)), layout="constrained")
    axes = np.asarray(fig.subplots(len(rois), 2 * len(paradigms), squeeze=False, sharey=True))
    reds = ["#fcbba1", "#fb6a4a", "#de2d26", "#a50f15"]
    blues = ["#c6dbef", "#6baed6", "#2171b5", "#08306b"]
    for i, roi in enumerate(rois):
        for j, paradigm in enumerate(paradigms):
            sub = _panel(means, roi, paradigm)
            for k, (x, fixed, colours, label) in enumerate(
                (("b_C", "b_L", reds, "lang. Q"), ("b_L", "b_C", blues, "cons. Q"))
            ):
                ax = axes[i, 2 * j + k]
                for q in range(1, 5):
                    line = sub[sub[fixed] == q].sort_values(x)
                    ax.errorbar(line[x], line["mean"], yerr=line["sem"], color=colours[q - 1], marker="o",
                                ms=3, lw=1.2, capsize=2, label=f"{label}{q}")
                ax.set_xticks([1, 2, 3, 4])
                if i == 0:
                    what = "controlled for language" if k == 0 else "controlled for consistency"
                    ax.set_title(f"{str(paradigm).replace('_', ' ')}\n{what}", fontsize=9)
                if i == len(rois) - 1:
                    ax.set_xlabel("consistency quartile" if k == 0 else "language quartile")
                if i == 0 and j == 0:
                    ax.legend(fontsize=6, frameon=False)
        axes[i, 0].set_ylabel(f"ROI {roi}\npredictivity (r)")
    return fig


def quartile_heatmaps(means: pd.DataFrame, vmax: float = 0.25) -> Figure:
    """Fig. 12: 4 x 4 mean predictivity (rows = consistency quartile, columns = language quartile) per
    ROI (rows) x paradigm (columns), colour scale 0..vmax, annotated."""
    rois = sorted(means["roi"].unique())
    paradigms = list(dict.fromkeys(means["paradigm"])) if "paradigm" in means else ["all"]
    fig = Figure(figsize=(3.0 * len(paradigms) + 0.8, 2.8 * len(rois)), layout="constrained")
    axes = np.asarray(fig.subplots(len(rois), len(paradigms), squeeze=False))
    image = None
    for i, roi in enumerate(rois):
        for j, paradigm in enumerate(paradigms):
            sub = _panel(means, roi, paradigm)
            grid = np.full((4, 4), np.nan)
            for _, row in sub.iterrows():
                grid[int(row["b_C"]) - 1, int(row["b_L"]) - 1] = row["mean"]
            ax = axes[i, j]
            image = ax.imshow(grid, vmin=0.0, vmax=vmax, cmap="viridis", origin="lower")
            for a in range(4):
                for b in range(4):
                    if np.isfinite(grid[a, b]):
                        ax.text(b, a, f"{grid[a, b]:.2f}", ha="center", va="center", fontsize=7, color="w")
            ax.set_xticks(range(4), [1, 2, 3, 4])
            ax.set_yticks(range(4), [1, 2, 3, 4])
            ax.set_title(f"ROI {roi} · {str(paradigm).replace('_', ' ')}", fontsize=9)
            ax.set_xlabel("language quartile")
            ax.set_ylabel("consistency quartile")
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.6, label="predictivity (r)")
    return fig
