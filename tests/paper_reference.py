"""A slow, literal reference of the paper's procedure (github.com/ryskina/concepts-brain-llms), written
for the parity tests from reading its code step by step; none of its code is copied. pandas pivot tables,
scikit-learn RidgeCV + KFold, scipy, as the paper uses them.

Source steps followed (file: function):
- utils.py: load_events            -> :func:`load_events` (runs sorted, file order within a run)
- analysis_utils.py: load_events_and_responses -> :func:`events_and_responses` (pivot_table over every
  column but beta: items sorted by stimulus path first; repeats averaged; NaN betas dropped)
- lm_utils.py: cache_betas_in_mask, choose_layer_and_pooling, get_best_setting, predict
- analysis_utils.py: NSD_noiseceiling, noise_ceiling (parcel = ROI here)
- lang_selectivity_vs_sem_consistency.py + analysis_utils.compute_consistency_in_voxel, and
  brain_encoding_quartiles.py: quantilize, predict_per_bin; figures.py: plot_brain_encoding_quartiles_
  single_model (r_C, r_L)
- rsa.py: rsa; figures.py: plot_rsa (selection of (pooling, layer) by participant-mean rho)

Inputs instead of the paper's files: ``betas[(pid, paradigm)]`` float32 (T, V) of the data voxels
``ijk`` (every other ROI voxel is NaN in the files, which ``nanmean`` / ``pivot_table`` drop exactly as
here), ``roi_of`` (V,) labels 1-3, and ``emb[(paradigm, pooling)]`` = the model's features (the paper's
``lm_embeddings`` pickles): ``hidden`` (n, L, H) keyed by (concept, stimulus_idx) or by concept.
Intermediate CSV round trips of the paper are skipped (they change floats by at most an ulp).
"""

from __future__ import annotations

from ast import literal_eval

import numpy as np
import pandas as pd
from scipy.spatial.distance import pdist, squareform
from scipy.stats import pearsonr, sem, spearmanr
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold

ALPHAS = np.asarray([10.0**x for x in range(-30, 30)])
ROI_NAMES = {1: "ROI 1", 2: "ROI 2", 3: "ROI 3"}


def load_events(order: pd.DataFrame, split: pd.DataFrame) -> pd.DataFrame:
    """Trials in GLMsingle column order: merge the split (left), runs in sorted order, file order within."""
    df = pd.merge(order, split, on=["concept", "stimulus_idx"], how="left")
    return pd.concat([df[df["run"] == r] for r in sorted(set(df["run"]))], ignore_index=True)


def events_and_responses(events: dict, betas: dict, pid: str, paradigms, ijk: np.ndarray, roi_of: np.ndarray,
                         avg_by_parcel: bool, voxel_sel: np.ndarray | None = None) -> pd.DataFrame:
    """load_events_and_responses with a parcel map (the ROI map) and parcel dict {1..3: 'ROI k'}.

    voxel_sel : optional bool (V,) restricting the voxel mask (quartile cells)."""
    sel = np.ones(len(ijk), bool) if voxel_sel is None else voxel_sel
    cols = {"stimulus": [], "concept": [], "stimulus_idx": [], "beta": [], "paradigm": [], "parcel": []}
    if not avg_by_parcel:
        cols["voxel"] = []
    for paradigm in paradigms:
        ev = events[pid, paradigm]
        B = betas[pid, paradigm]
        if not avg_by_parcel:
            for v in np.flatnonzero(sel):
                n = len(ev)
                cols["stimulus"] += list(ev["stimulus"])
                cols["concept"] += list(ev["concept"])
                cols["stimulus_idx"] += list(ev["stimulus_idx"])
                cols["beta"] += list(B[:, v])
                cols["paradigm"] += [paradigm] * n
                cols["voxel"] += [str(tuple(int(x) for x in ijk[v]))] * n
                cols["parcel"] += [ROI_NAMES[int(roi_of[v])]] * n
        else:
            for label, name in ROI_NAMES.items():
                vox = np.flatnonzero(sel & (roi_of == label))
                if len(vox) == 0:
                    continue
                b = np.nanmean(B[:, vox], axis=1)
                n = len(ev)
                cols["stimulus"] += list(ev["stimulus"])
                cols["concept"] += list(ev["concept"])
                cols["stimulus_idx"] += list(ev["stimulus_idx"])
                cols["beta"] += list(b)
                cols["paradigm"] += [paradigm] * n
                cols["parcel"] += [name] * n
    df = pd.DataFrame(cols)
    return df.pivot_table(index=[c for c in df.columns if c != "beta"], values=["beta"])


def _cache_betas(events, betas, pid, paradigm, ijk, roi_of, avg_by_parcel):
    df = events_and_responses(events, betas, pid, [paradigm], ijk, roi_of, avg_by_parcel).reset_index()
    df["voxel_population"] = "all"
    df["id"] = pid
    df["stimulus_idx"] = df["stimulus_idx"].astype(int)
    return df


def _single_embedding(paradigm: str, is_vlm: bool = False) -> bool:
    return paradigm == "word_clouds" or (paradigm == "pictures" and not is_vlm)


def _emb_lookup(emb, paradigm, pooling):
    """{concept: hidden (L, H)} (single embedding) or {(concept, idx): hidden (L, H)}."""
    f = emb[paradigm, pooling]
    out = {}
    for n, (c, s) in enumerate(zip(f.keys["concept"], f.keys["stimulus_idx"], strict=True)):
        out[c if pd.isna(s) else (c, int(s))] = f.hidden[n]
    return out


def _ridge_cv_r(X, y):
    """KFold(5, shuffle, 0) x RidgeCV(60 alphas, alpha_per_target): Pearson r per fold (folds, targets)."""
    out = []
    for train, test in KFold(n_splits=5, shuffle=True, random_state=0).split(X):
        model = RidgeCV(alphas=ALPHAS, alpha_per_target=True)
        model.fit(X[train], y[train])
        pred = model.predict(X[test])
        if pred.ndim == 1:
            pred = pred[:, None]
        yt = y[test] if y.ndim == 2 else y[test][:, None]
        out.append([pearsonr(pred[:, i], yt[:, i]).statistic for i in range(yt.shape[1])])
    return np.asarray(out)


def choose_layer_and_pooling(df_betas: pd.DataFrame, paradigm: str, emb, poolings, n_layers) -> pd.DataFrame:
    """Fold scores on the pooled average of all participants' rows (voxel_population 'all')."""
    single = _single_embedding(paradigm)
    df = df_betas.drop(columns=["voxel_population", "id"])
    if single:
        df = df.groupby(["concept", "parcel"]).mean(numeric_only=True)
    else:
        df = df.groupby(["concept", "stimulus_idx", "parcel"]).mean(numeric_only=True)
    items = df.groupby(["concept", "stimulus_idx"]).mean(numeric_only=True).index
    y_per_parcel = {}
    for parcel in df.index.get_level_values("parcel").drop_duplicates():
        d = df[np.isin(df.index.get_level_values("parcel"), parcel)]
        if len(d.dropna()) > 0:
            y_per_parcel[parcel] = d["beta"].to_numpy()
    parcels = list(y_per_parcel)
    y = np.vstack([y_per_parcel[p] for p in parcels]).T
    rows = []
    for pooling in poolings:
        look = _emb_lookup(emb, paradigm, pooling)
        for layer in range(n_layers):
            if single:
                X = np.vstack([look[c][layer] for c in items.get_level_values(0).drop_duplicates()])
            else:
                X = np.vstack([look[(c, int(s))][layer] for c, s in items])
            r = _ridge_cv_r(X, y)
            for f in range(r.shape[0]):
                for i, parcel in enumerate(parcels):
                    rows.append((layer, pooling, f + 1, r[f, i], parcel))
    return pd.DataFrame(rows, columns=["layer", "pooling", "fold", "pearsonr", "parcel"])


def get_best_setting(df_cv: pd.DataFrame) -> dict:
    """parcel -> (layer, pooling): argmax of the fold-mean r over (layer, pooling) (first on ties)."""
    out = {}
    for parcel in df_cv["parcel"].unique():
        d = df_cv[df_cv["parcel"] == parcel].drop(columns=["parcel", "fold"])
        out[parcel] = d.groupby(["layer", "pooling"]).mean().idxmax().to_list()[0]
    return out


def _design(df_roi: pd.DataFrame, paradigm: str, parcel: str, layer: int, pooling: str, emb):
    """predict's X and y for one parcel of a parcel-averaged pivot table (items in pivot order)."""
    look = _emb_lookup(emb, paradigm, pooling)
    d = df_roi.query("parcel == @parcel")
    if _single_embedding(paradigm):
        d = d.reset_index().groupby(["concept", "paradigm", "parcel"]).mean(numeric_only=True)
        X = np.vstack([look[c][layer] for c, _, _ in d.index])
        items = [c for c, _, _ in d.index]
    else:
        X = np.vstack([look[(c, int(s))][layer] for _, c, s, _, _ in d.index])
        items = [(st, c, int(s)) for st, c, s, _, _ in d.index]
    return X, d["beta"].to_numpy(), items


def predict(df_roi: pd.DataFrame, paradigm: str, params: dict, emb) -> dict:
    """Per parcel of a participant's parcel-averaged pivot table: fold r at the parcel's setting."""
    out = {}
    for parcel in df_roi.reset_index()["parcel"].unique():
        layer, pooling = params[parcel]
        X, y, _ = _design(df_roi, paradigm, parcel, layer, pooling, emb)
        out[parcel] = _ridge_cv_r(X, y)[:, 0]
    return out


def predict_batched(tables: dict, paradigm: str, params: dict, emb) -> dict:
    """``predict`` for many (population, parcel) targets of one participant at once: targets sharing a
    (layer, pooling) and the same items are fitted as columns of one RidgeCV(alpha_per_target=True), which
    chooses each column's alpha from that column's own LOO error and solves each column separately, so
    the result equals separate fits (up to float rounding); it only saves time.
    tables : population -> pivot table. Returns {(population, parcel): fold r (5,)}."""
    groups: dict = {}
    for pop, df_roi in tables.items():
        for parcel in df_roi.reset_index()["parcel"].unique():
            layer, pooling = params[parcel]
            X, y, items = _design(df_roi, paradigm, parcel, layer, pooling, emb)
            g = groups.setdefault((layer, pooling, tuple(items)), {"X": X, "cols": [], "keys": []})
            g["cols"].append(y)
            g["keys"].append((pop, parcel))
    out = {}
    for g in groups.values():
        r = _ridge_cv_r(g["X"], np.vstack(g["cols"]).T)
        for i, key in enumerate(g["keys"]):
            out[key] = r[:, i]
    return out


def encoding_rois(events, betas, pids, paradigm, ijk, roi_of, emb, poolings, n_layers):
    """brain_encoding_whole_brain.py with the ROI map as parcellation. Returns (per-participant frame
    [participant, parcel, mean_r, best_layer, best_pooling], cv scores frame)."""
    df_all = pd.concat([_cache_betas(events, betas, p, paradigm, ijk, roi_of, True) for p in pids],
                       ignore_index=True)
    cv = choose_layer_and_pooling(df_all, paradigm, emb, poolings, n_layers)
    params = get_best_setting(cv)
    rows = []
    for pid in pids:
        df_roi = events_and_responses(events, betas, pid, [paradigm], ijk, roi_of, True)
        for parcel, r in predict(df_roi, paradigm, params, emb).items():
            rows.append((pid, parcel, float(pd.Series(r).mean()), int(params[parcel][0]), params[parcel][1]))
    return pd.DataFrame(rows, columns=["participant", "parcel", "mean_r", "best_layer", "best_pooling"]), cv


def nsd_noise_ceiling(data: np.ndarray, nc_n: int) -> float:
    """NSD_noiseceiling: data (n_items, n_participants)."""
    n = data.shape[1]
    sd_noise = np.sqrt(np.nanmean(np.square(np.nanstd(data, axis=1, ddof=1))))
    var_stim = np.var(np.nanmean(data, axis=1), ddof=1)
    sig2 = var_stim - np.square(sd_noise) / n
    sd_signal = np.sqrt(max(sig2, 0.0))
    ncsnr = sd_signal / sd_noise
    return float(np.sqrt(np.square(ncsnr) / (np.square(ncsnr) + 1 / nc_n)))


def noise_ceiling(events, betas, pids, paradigm, ijk, roi_of) -> dict:
    """analysis_utils.noise_ceiling for the ROIs: items (concept, stimulus_idx) x participants, n = #pids."""
    frames = []
    for pid in pids:
        d = events_and_responses(events, betas, pid, [paradigm], ijk, roi_of, True).reset_index()
        d["id"] = pid
        frames.append(d)
    df = pd.concat(frames, ignore_index=True)
    out = {}
    for parcel in ROI_NAMES.values():
        sel = df.query("parcel == @parcel and paradigm == @paradigm")
        wide = sel.pivot(index=["concept", "stimulus_idx"], columns="id", values="beta")
        out[parcel] = nsd_noise_ceiling(wide.to_numpy(), nc_n=wide.shape[1])
    return out


# ------------------------------------------------------------------------------------ quartiles


def voxel_metrics(events, betas, pid, ijk, roi_of, language) -> pd.DataFrame:
    """get_language_selectivity_semantic_consistency: C (all stimuli) and S-N per ROI voxel."""
    paradigms_order = ["sentences", "word_clouds", "pictures"]
    ev = events_and_responses(events, betas, pid, paradigms_order, ijk, roi_of, False)
    paradigms = set(ev.index.get_level_values("paradigm"))
    rows = []
    for v in range(len(ijk)):
        key = str(tuple(int(x) for x in ijk[v]))
        d = ev[np.isin(ev.index.get_level_values("voxel"), key)]
        d = d.groupby(["concept", "paradigm"]).mean(numeric_only=True).reset_index()
        d = d.pivot(index="concept", values="beta", columns="paradigm")
        if len(d) != 180 or set(d.columns) != paradigms:
            c = np.nan
        else:
            corrs = d.corr().values
            c = corrs[np.triu_indices_from(corrs, 1)].mean()
        rows.append((key, c, float(language[v]), ROI_NAMES[int(roi_of[v])]))
    return pd.DataFrame(rows, columns=["voxel", "semantic_consistency", "language_selectivity", "parcel"])


def quantilize(df: pd.DataFrame, n: int = 4) -> pd.DataFrame:
    df = df.dropna().copy()
    df["cons_quantile"] = 0
    df["lang_quantile"] = 0
    df = df.set_index("voxel")
    for parcel in df["parcel"].unique():  # noqa: B007 - used in the query string
        d = df.query("parcel == @parcel")
        for q in np.linspace(0, 1, n + 1)[:-1]:
            ct = d.quantile(q, numeric_only=True)["semantic_consistency"]
            lt = d.quantile(q, numeric_only=True)["language_selectivity"]
            df.loc[d[d["semantic_consistency"] >= ct].index, "cons_quantile"] += 1
            df.loc[d[d["language_selectivity"] >= lt].index, "lang_quantile"] += 1
    df["quantile"] = "(" + df["cons_quantile"].astype(str) + ", " + df["lang_quantile"].astype(str) + ")"
    return df[["cons_quantile", "lang_quantile", "parcel", "quantile"]].reset_index()


def quartiles(events, betas, pids, paradigm, ijk, roi_of, language, emb, poolings, n_layers):
    """brain_encoding_quartiles.py for one model: (per-cell frame [participant, parcel, b_C, b_L, r],
    stats {parcel: (r_C mean, r_C sem, r_L mean, r_L sem)}, params {parcel: (layer, pooling)})."""
    df_all = pd.concat([_cache_betas(events, betas, p, paradigm, ijk, roi_of, False) for p in pids],
                       ignore_index=True)
    params = get_best_setting(choose_layer_and_pooling(df_all, paradigm, emb, poolings, n_layers))
    keys = [str(tuple(int(x) for x in v)) for v in ijk]
    rows = []
    for pid in pids:
        dq = quantilize(voxel_metrics(events, betas, pid, ijk, roi_of, language[pid]))
        tables = {}
        for quantile in dq["quantile"].unique():
            sel = np.isin(keys, dq.query("quantile == @quantile")["voxel"].unique())
            tables[quantile] = events_and_responses(events, betas, pid, [paradigm], ijk, roi_of, True, sel)
        for (quantile, parcel), r in predict_batched(tables, paradigm, params, emb).items():
            for f, rf in enumerate(r):
                rows.append((pid, parcel, quantile, f + 1, rf))
    df = pd.DataFrame(rows, columns=["id", "parcel", "voxel_population", "fold", "pearsonr"])
    df = df.groupby(["id", "parcel", "voxel_population"]).mean().reset_index()
    df["cons_q"] = df["voxel_population"].apply(lambda x: literal_eval(x)[0])
    df["lang_q"] = df["voxel_population"].apply(lambda x: literal_eval(x)[1])
    stats = {}
    for parcel in ROI_NAMES.values():
        red, blue = [], []
        for q in range(1, 5):  # noqa: B007 - used in the query string
            d = df.query("parcel == @parcel and lang_q == @q")
            red.append(d[["pearsonr", "cons_q"]].corr().values[0, 1])
        for q in range(1, 5):  # noqa: B007 - used in the query string
            d = df.query("parcel == @parcel and cons_q == @q")
            blue.append(d[["pearsonr", "lang_q"]].corr().values[0, 1])
        stats[parcel] = (np.mean(red), sem(red), np.mean(blue), sem(blue))
    cells = df.rename(columns={"id": "participant", "cons_q": "b_C", "lang_q": "b_L", "pearsonr": "r"})
    return cells[["participant", "parcel", "b_C", "b_L", "r"]], stats, params


# ------------------------------------------------------------------------------------ RSA


def rsa_participant(events, betas, pid, ijk, roi_of, emb, poolings, n_layers, is_vlm=False) -> pd.DataFrame:
    """rsa.rsa (text-only condition): rho per (pooling, layer, parcel)."""
    df = pd.concat([_cache_betas(events, betas, pid, p, ijk, roi_of, False)
                    for p in ("sentences", "word_clouds", "pictures")], ignore_index=True)
    seen = df.set_index(["concept", "paradigm", "stimulus_idx"]).sort_index().index.drop_duplicates()
    df = df.groupby(["voxel", "parcel", "concept"]).mean(numeric_only=True).reset_index()
    seen_frame = seen.to_frame()
    concepts = seen.get_level_values("concept").unique()
    rdms = {}
    for pooling in poolings:
        vecs = {layer: [] for layer in range(n_layers)}
        looks = {p: _emb_lookup(emb, p, pooling) for p in ("sentences", "word_clouds")}
        for concept in concepts:
            per_layer = {layer: [] for layer in range(n_layers)}
            for paradigm in ("sentences", "word_clouds", "pictures"):
                if paradigm == "pictures" and not is_vlm:
                    continue
                s = seen_frame[np.isin(seen_frame.index.get_level_values("concept"), concept)]
                s = s[np.isin(s.index.get_level_values("paradigm"), paradigm)]
                for layer in range(n_layers):
                    if paradigm == "word_clouds":
                        per_layer[layer].append(looks[paradigm][concept][layer])
                    else:
                        look = looks[paradigm]
                        per_layer[layer] += [look[(concept, int(i))][layer] for i in s["stimulus_idx"]]
            for layer in range(n_layers):
                vecs[layer].append(np.array(per_layer[layer]).mean(axis=0))
        for layer in range(n_layers):
            rdms[pooling, layer] = pdist(np.array(vecs[layer]), metric="correlation")
    rows = []
    for parcel in df["parcel"].unique():  # noqa: B007 - used in the query string
        d = df.query("parcel == @parcel").pivot(index=["concept"], columns="voxel", values="beta")
        if len(d.columns) <= 1:
            continue
        d = d.sort_index()
        brain = squareform(1 - d.T.corr().to_numpy(), checks=False)
        for pooling in poolings:
            for layer in range(n_layers):
                rows.append((pooling, layer, parcel, spearmanr(brain, rdms[pooling, layer]).correlation))
    out = pd.DataFrame(rows, columns=["pooling", "layer", "parcel", "spearmanr"])
    out["id"] = pid
    return out


def rsa(events, betas, pids, ijk, roi_of, emb, poolings, n_layers):
    """All participants' rho and the paper's choice per parcel: (pooling, layer) of max mean rho."""
    df = pd.concat([rsa_participant(events, betas, p, ijk, roi_of, emb, poolings, n_layers) for p in pids],
                   ignore_index=True)
    mean = df.groupby(["pooling", "layer", "parcel"]).agg({"spearmanr": "mean"}).reset_index()
    choice = {}
    for parcel in ROI_NAMES.values():
        d = mean.query("parcel == @parcel").drop(columns=["parcel"]).set_index(["pooling", "layer"])
        choice[parcel] = d.idxmax().values[0]
    return df, choice
