"""Encoding results as tables: scores per fold, a summary per target, r per layer and pooling, and the
per-layer curves a plot shows (the plugin wraps them into typed outputs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from core.stats.noise_ceiling import ceiling_normalise

if TYPE_CHECKING:
    from core.analyses.encoding.run import EncodingRun


def encoding_tables(runs: list[EncodingRun]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """encoding_scores (per fold), encoding_summary (per target) and layer_curves frames."""
    score_frames, summary_frames, curve_frames = [], [], []
    for run in runs:
        nc = None
        if run.noise_ceiling is not None:
            nc = pd.Series(run.noise_ceiling.nc, index=run.group_keys)
        for ps in run.participants:
            s, tg = ps.scores, ps.targets
            F, T = s.r.shape
            score_frames.append(pd.DataFrame({
                "participant": ps.participant, "paradigm": run.paradigm,
                "target": np.tile(tg.names, F), "target_kind": tg.kind, "model": run.model,
                "layer": s.layer.reshape(-1), "pooling": np.asarray(run.poolings)[s.pooling.reshape(-1)],
                "fold": np.repeat(np.arange(F), T), "r": s.r.reshape(-1), "alpha": s.alpha.reshape(-1),
            }))
            best_layer, best_pool = mode_per_column(s.layer), mode_per_column(s.pooling)
            summary = pd.DataFrame({
                "participant": ps.participant, "paradigm": run.paradigm, "target": tg.names,
                "target_kind": tg.kind, "key": tg.keys, "model": run.model, "mean_r": s.mean_r,
                "best_layer": best_layer, "best_pooling": np.asarray(run.poolings)[best_pool],
                "n_folds": np.isfinite(s.r).sum(axis=0),
            })
            if nc is not None:
                summary["noise_ceiling"] = nc.reindex(tg.keys).to_numpy()
                summary["r_normalised"] = ceiling_normalise(summary["mean_r"], summary["noise_ceiling"])
            summary_frames.append(summary)
            if s.curves is not None:
                curve_frames.append(_curve_frame(s.curves, run, ps.participant, tg.names))
        if run.group_curves is not None:
            names = _group_names(run)
            curve_frames.append(_curve_frame(run.group_curves.curves(), run, "group", names))
    curves = pd.concat(curve_frames, ignore_index=True) if curve_frames else pd.DataFrame(
        columns=["participant", "paradigm", "model", "target", "pooling", "layer", "r"])
    return pd.concat(score_frames, ignore_index=True), pd.concat(summary_frames, ignore_index=True), curves


def _group_names(run: EncodingRun) -> np.ndarray:
    lookup = {}
    for ps in run.participants:
        lookup.update(zip(ps.targets.keys.tolist(), ps.targets.names.tolist(), strict=True))
    return np.array([lookup.get(int(k), str(k)) for k in run.group_keys])


def _curve_frame(curves: np.ndarray, run: EncodingRun, participant: str, names: np.ndarray) -> pd.DataFrame:
    P, L, T = curves.shape
    return pd.DataFrame({
        "participant": participant, "paradigm": run.paradigm, "model": run.model,
        "target": np.tile(names, P * L), "pooling": np.repeat(np.asarray(run.poolings), L * T),
        "layer": np.tile(np.repeat(run.layers, T), P), "r": curves.reshape(-1),
    })


def mode_per_column(values: np.ndarray) -> np.ndarray:
    """Most frequent value per column of (F, T) int (smallest on ties)."""
    values = np.asarray(values)
    lo = values.min()
    counts = np.apply_along_axis(np.bincount, 0, values - lo, minlength=values.max() - lo + 1)
    return np.argmax(counts, axis=0) + lo


def layer_curve_series(curves: pd.DataFrame, run: EncodingRun) -> tuple[dict, dict] | None:
    """Target-mean r per layer of one run (model x paradigm) from the layer_curves table: ``(series,
    errors)``, label -> float (L,) in ``run.layers`` order, one series per pooling (and per target when
    there are at most 8 targets), errors = SEM over targets. None when the run has no curve (one layer)."""
    sub = curves[(curves["model"] == run.model) & (curves["paradigm"] == run.paradigm)]
    if sub.empty or len(run.layers) < 2:
        return None
    series, errors = {}, {}
    keys = ["pooling", "target"] if sub["target"].nunique() <= 8 else ["pooling"]
    for key, g in sub.groupby(keys):
        key = key if isinstance(key, tuple) else (key,)
        per_layer = g.groupby("layer")["r"]
        label = " ".join(map(str, key))
        series[label] = per_layer.mean().reindex(run.layers).to_numpy()
        errors[label] = per_layer.sem().reindex(run.layers).to_numpy()
    return series, errors


def group_layer_values(run: EncodingRun, n_voxels: int) -> np.ndarray:
    """The group's r per pooling x layer on the whole voxel grid: float64 (n_poolings, n_layers, n_voxels),
    NaN where the group has no target (``run.group_keys`` are voxel indices of the union grid)."""
    curves = run.group_curves.curves()
    values = np.full((len(run.poolings), len(run.layers), n_voxels), np.nan)
    values[:, :, np.asarray(run.group_keys, np.int64)] = curves
    return values


#: per table, the columns an unsplit run's rows are grouped by, outermost first (targets inside each
#: group in key order); text columns in order of first appearance, numbers ascending
MERGED_ORDER = {
    "encoding_scores": ("model", "paradigm", "participant", "fold"),
    "encoding_summary": ("model", "paradigm", "participant"),
    "layer_curves": ("model", "paradigm", "participant", "pooling", "layer"),
}


def merged_order(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """The rows of a table concatenated from target chunks (each chunk's rows in an unsplit run's order,
    chunks in key order) in the order one unsplit run writes them: a stable sort by ``MERGED_ORDER``."""
    columns = [c for c in MERGED_ORDER.get(name, ()) if c in frame]
    if not columns or frame.empty:
        return frame.reset_index(drop=True)
    keys = {}
    for col in columns:
        values = frame[col]
        if pd.api.types.is_numeric_dtype(values):
            keys[col] = values.to_numpy()
        else:
            text = values.astype(str)
            keys[col] = text.map({v: i for i, v in enumerate(dict.fromkeys(text))}).to_numpy()
    order = np.lexsort([keys[c] for c in reversed(columns)])
    return frame.iloc[order].reset_index(drop=True)
