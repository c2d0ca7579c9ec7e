"""Whole-brain figures beyond Fig. 3 (Qt-free matplotlib ``Figure`` objects, no pyplot state): the
language-network comparison of the paper's Fig. 13."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from core.figures.encoding_figures import paradigm_order

#: matplotlib's Dark2 colours (the paper's palette for Fig. 13)
DARK2 = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666")


def short_area_name(name: str) -> str:
    """``L_TPOJ1_ROI`` -> ``TPOJ1`` (hemisphere prefix and ``_ROI`` suffix dropped, as the paper's labels)."""
    text = str(name).removesuffix("_ROI")
    return text[2:] if text[:2] in ("L_", "R_") else text


def language_strip(table: pd.DataFrame) -> Figure:
    """Fig. 13: one row per paradigm; per location (language parcels, then ROIs) the mean LM predictivity
    of each of its areas as a short horizontal mark labelled with the area name; a dashed line
    separates the language parcels from the ROIs.

    table : from :func:`core.analyses.wholebrain.language_network.language_network_table` (ordered).
    """
    paradigms = paradigm_order(table["paradigm"]) if "paradigm" in table else ["all"]
    locations = list(dict.fromkeys(table["location"]))
    n_language = len(dict.fromkeys(table.loc[table["group"] == "language", "location"]))
    fig = Figure(figsize=(max(6.0, 0.95 * len(locations) + 1.5), 2.7 * len(paradigms)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(paradigms), 1, squeeze=False)[:, 0])
    finite = table["mean_r"].replace([np.inf, -np.inf], np.nan).dropna()
    top = max(0.3, float(finite.max()) * 1.1) if len(finite) else 0.3
    bottom = min(0.0, float(finite.min()) * 1.1) if len(finite) else 0.0
    for ax, paradigm in zip(axes, paradigms, strict=True):
        sub = table[table["paradigm"] == paradigm] if "paradigm" in table else table
        for xi, location in enumerate(locations):
            pts = sub[sub["location"] == location]
            colour = DARK2[xi % len(DARK2)]
            ax.scatter(np.full(len(pts), xi), pts["mean_r"], marker="_", s=220, linewidths=2.0, c=colour)
            for area, y in zip(pts["area"], pts["mean_r"], strict=True):
                if np.isfinite(y):
                    ax.text(xi - 0.12, y, short_area_name(area), ha="right", va="center", fontsize=7)
        if 0 < n_language < len(locations):
            ax.axvline(n_language - 0.5, color="k", ls="--", lw=0.6)
        ax.set_xticks(range(len(locations)), locations)
        ax.set_xlim(-0.9, len(locations) - 0.5)
        ax.set_ylim(bottom, top)
        ax.set_title(f"{str(paradigm).replace('_', ' ')}", fontsize=10)
        ax.set_ylabel("mean LM predictivity")
        ax.spines[["right", "top"]].set_visible(False)
    return fig
