"""RSA from RDMs to tables: per-participant scores with permutation p-values, layer selection (the
paper's max participant-mean rho, and leave one participant out) and group tests.

Input is one :class:`ParticipantRDMs` per participant (brain RDMs per ROI, model RDMs per layer for
each model x condition x pooling); :func:`run_rsa` returns an :class:`RSAResult` with two tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.analyses.rsa.rdm import compare_many, n_from_pairs
from core.analyses.rsa.stats import (
    make_concept_permutations,
    max_null_p,
    paper_shuffle,
    permutation_null,
    permutation_p,
    permute_condensed,
    select_leave_one_out,
    select_paper,
)
from core.errors import ParameterError
from core.names import BASELINES  # noqa: F401 - re-exported: the implementing module's names
from core.progress import CancelToken, ProgressFn, check_cancel, no_progress, sub_progress

Setting = tuple[str, str, str]  # (model, condition, pooling)


@dataclass
class ParticipantRDMs:
    """One participant's condensed RDMs over the same concepts.

    brain : ROI name -> float64 (M,). models : (model, condition, pooling) -> float64 (L + 1, M), row =
    layer. n_voxels : ROI name -> voxels used.
    """

    participant: str
    concepts: tuple[str, ...]
    brain: dict[str, np.ndarray]
    models: dict[Setting, np.ndarray]
    n_voxels: dict[str, int] = field(default_factory=dict)


@dataclass
class RSAResult:
    """scores : one row per participant x ROI x model x condition x pooling x layer.
    group : one row per ROI x model x condition x selection (paper / cv / fixed layer)."""

    scores: pd.DataFrame
    group: pd.DataFrame
    n_permutations: int
    seed: int | None
    scheme: str


def run_rsa(participants: list[ParticipantRDMs], comparison: str = "spearman", layer: str | int = "select",
            baseline: str = "permutation", n_permutations: int = 10_000, seed: int | None = 0,
            scheme: str = "independent", progress: ProgressFn = no_progress,
            cancel: CancelToken | None = None, device: str = "cpu") -> RSAResult:
    """Compare every brain RDM with every model layer, test, select layers and summarise the group.

    Parameters
    ----------
    layer : ``"select"`` (all layers; the paper's selection and leave-one-participant-out) or an int.
    baseline : ``permutation`` (a null of ``n_permutations`` concept relabelings, one-sided p per
        participant x ROI x setting) or ``single_shuffle`` (the paper's one shuffle of the brain rows,
        ``df.sample(frac=1, random_state=seed)``; no p per participant).
    scheme : ``independent`` (exact) or ``product`` (see :mod:`core.analyses.rsa.stats`).
    device : where the ``independent`` null runs (``cpu``, ``cuda``, ``auto``; torch on a GPU).
    """
    if baseline not in BASELINES:
        raise ParameterError(f"unknown baseline {baseline!r}; choose from {', '.join(BASELINES)}")
    if not participants:
        raise ParameterError("no participants to analyse")
    n_perm = n_permutations if baseline == "permutation" else 0
    rows = []
    null_sums: dict = {}
    for p_i, part in enumerate(participants):
        check_cancel(cancel)
        step = sub_progress(progress, p_i / len(participants), (p_i + 1) / len(participants))
        rows.extend(_participant_rows(part, comparison, layer, n_perm, seed, scheme, null_sums, step, cancel,
                                      device))
    scores = pd.DataFrame(rows)
    scores = _mark_selection(scores, layer)
    group = _group_table(scores, layer, null_sums, len(participants))
    progress(1.0, "RSA done")
    return RSAResult(scores, group, n_perm, seed, scheme)


def _layers(n_states: int, layer: str | int) -> np.ndarray:
    if layer == "select":
        return np.arange(n_states)
    layer = int(layer)
    if not 0 <= layer < n_states:
        raise ParameterError(f"layer {layer} is outside 0..{n_states - 1} (0 = embeddings)")
    return np.array([layer])


def _participant_rows(part, comparison, layer, n_perm, seed, scheme, null_sums, progress, cancel, device):
    rois = list(part.brain)
    brain = np.stack([part.brain[r] for r in rois])
    n = n_from_pairs(brain.shape[1])
    if n != len(part.concepts):
        raise ParameterError(f"participant {part.participant}: RDMs do not match its concepts")
    settings, stacks = [], []
    for key, stack in part.models.items():
        for lay in _layers(stack.shape[0], layer):
            settings.append((key, int(lay)))
            stacks.append(stack[lay])
    models = np.stack(stacks)
    rho = compare_many(brain, models, comparison)  # (R, K)
    shuffled = compare_many(permute_condensed(brain, paper_shuffle(n, seed or 0)), models, comparison)
    if n_perm:
        perms = make_concept_permutations(n, n_perm, seed, scheme)
        # all ROIs x (model, condition, pooling, layer) settings of the participant in one pass: (R, N, K)
        null = permutation_null(brain, models, perms, comparison, progress, cancel, device=device)
        p = permutation_p(rho, null)
        null_mean = null.mean(axis=1, dtype=np.float64)
        q95 = np.quantile(null, 0.95, axis=1)
        for r_i, roi in enumerate(rois):  # participant sums of the null, per ROI (same relabelling index)
            total, count = null_sums.get((n, roi), (None, 0))
            block = null[r_i].astype(np.float64)
            null_sums[(n, roi)] = (block if total is None else total + block, count + 1)
    else:
        p = null_mean = q95 = np.full(rho.shape, np.nan)
    rows = []
    for r_i, roi in enumerate(rois):
        for k, ((model, condition, pooling), lay) in enumerate(settings):
            rows.append({
                "participant": part.participant, "roi": roi, "model": model, "layer": lay,
                "pooling": pooling, "condition": condition, "rho": rho[r_i, k], "p_perm": p[r_i, k],
                "null_mean": null_mean[r_i, k], "null_q95": q95[r_i, k], "rho_shuffled": shuffled[r_i, k],
                "n_concepts": n, "n_voxels": part.n_voxels.get(roi, np.nan), "_r": r_i, "_k": k,
            })
    return rows


def _mark_selection(scores: pd.DataFrame, layer) -> pd.DataFrame:
    scores = scores.copy()
    scores["selected_paper"] = False
    scores["selected_cv"] = False
    if layer != "select":
        return scores
    for _, g in scores.groupby(["roi", "model", "condition"], sort=False):
        wide = g.pivot_table(index="participant", columns=["pooling", "layer"], values="rho", sort=False)
        best = wide.columns[select_paper(wide.to_numpy())]
        hit = (g["pooling"] == best[0]) & (g["layer"] == best[1])
        scores.loc[g.index[hit.to_numpy()], "selected_paper"] = True
        if len(wide) >= 2:
            chosen = select_leave_one_out(wide.to_numpy())
            for pid, c in zip(wide.index, chosen, strict=True):
                pool, lay = wide.columns[c]
                sel = (g["participant"] == pid) & (g["pooling"] == pool) & (g["layer"] == lay)
                scores.loc[g.index[sel.to_numpy()], "selected_cv"] = True
    return scores


def _group_table(scores: pd.DataFrame, layer, null_sums: dict, n_participants: int) -> pd.DataFrame:
    from core.analyses.rsa.stats import group_wilcoxon

    rows = []
    for (roi, model, condition), g in scores.groupby(["roi", "model", "condition"], sort=False):
        if layer == "select":
            picks = {"paper": g[g["selected_paper"]], "cv": g[g["selected_cv"]]}
        else:
            picks = {f"layer {int(layer)}, {pool}": s for pool, s in g.groupby("pooling", sort=False)}
        for selection, s in picks.items():
            if s.empty:
                continue
            s = s.sort_values("participant")
            row = {"roi": roi, "model": model, "condition": condition, "selection": selection,
                   "pooling": ";".join(dict.fromkeys(s["pooling"])),
                   "layer": ";".join(str(v) for v in dict.fromkeys(s["layer"])),
                   "n_participants": len(s), "mean_rho": s["rho"].mean(),
                   "sem_rho": s["rho"].std(ddof=1) / np.sqrt(len(s)) if len(s) > 1 else np.nan,
                   "mean_null": s["null_mean"].mean(), "mean_null_q95": s["null_q95"].mean()}
            row["w_vs_null"], row["p_vs_null"] = group_wilcoxon(s["rho"], s["null_mean"])
            row["w_vs_zero"], row["p_vs_zero"] = group_wilcoxon(s["rho"], 0.0)
            if selection == "paper":
                shuffled = _paper_selected_shuffle(g)
            else:
                shuffled = s["rho_shuffled"].to_numpy()
            row["mean_rho_shuffled"] = float(np.mean(shuffled))
            row["w_vs_shuffled"], row["p_vs_shuffled"] = group_wilcoxon(s["rho"].to_numpy(), shuffled)
            row["p_perm_group"] = _group_perm_p(g, s, selection, null_sums, n_participants)
            rows.append(row)
    return pd.DataFrame(rows)


def _paper_selected_shuffle(g: pd.DataFrame) -> np.ndarray:
    """The paper's permuted baseline: the shuffled rho at its own max participant-mean setting."""
    wide = g.pivot_table(index="participant", columns=["pooling", "layer"], values="rho_shuffled", sort=True)
    return wide.to_numpy()[:, select_paper(wide.to_numpy())]


def _group_perm_p(g, s, selection, null_sums, n_participants) -> float:
    """Group permutation p from the participant-mean null (the same relabelling index for everyone);
    for the paper's selection the maximum over settings is taken in the null too. NaN when the
    participants' nulls cannot be pooled (different concept sets, an ROI missing for someone)."""
    if s["p_perm"].isna().all() or selection == "cv" or g["n_concepts"].nunique() != 1:
        return float("nan")
    total, count = null_sums.get((int(g["n_concepts"].iloc[0]), g["roi"].iloc[0]), (None, 0))
    if total is None or count != g["participant"].nunique():
        return float("nan")
    ks = sorted(g["_k"].unique())
    mean_null = total[:, ks] / count  # (N, S) participant-mean null per setting
    rho = g.pivot_table(index="participant", columns="_k", values="rho")[ks].to_numpy()
    if selection == "paper":
        return max_null_p(rho, mean_null[None])
    col = ks.index(int(s["_k"].iloc[0]))
    observed = np.float32(np.nanmean(rho[:, col]))
    return float((1 + np.sum(mean_null[:, col] >= observed)) / (1 + mean_null.shape[0]))


def public_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """The scores table as written to ``rsa_scores.csv`` (internal columns dropped)."""
    return scores.drop(columns=[c for c in scores.columns if c.startswith("_")])
