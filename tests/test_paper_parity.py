"""Paper mode against a literal reference of the paper's code (issue 14, Validation 1).

A release-layout dataset (tests/paper_release_data.py: 3 participants with their real trial orders, 24
data voxels per ROI of the published ROI map, a planted minilm signal) is analysed by the project's
plugins in paper settings and by tests/paper_reference.py (pandas pivot tables, RidgeCV, scipy, step by
step as the paper's code). Encoding r, chosen layer and pooling, noise ceiling, quartile r and r_C / r_L,
RSA rho and its (pooling, layer) choice must agree: r within 1e-4, choices identical.

The minilm features of the paper's stimulus table are extracted once (about 3 min on 2 CPU cores) and
then read from the feature cache. The release reader reads the stimulus table from the layout
(``stimuli/complang_paradigms_stims.csv``), so the project runs with no extra option.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from tests import paper_reference as ref
from tests.paper_release_data import (
    MODEL,
    PARADIGMS,
    PIDS,
    PLANTED,
    build_release,
    dense_reference_bytes,
    write_sparse_glmsingle,
)

TOL = 1e-4
POOLINGS = ("last_tok", "mean")  # the paper's candidates for every model but FLAVA (lm_utils.MODEL_CONFIGS)
N_LAYERS = 7  # minilm: embeddings + 6 layers


def test_sparse_writer_is_np_save():
    """The fixture's sparse GLMsingle writer emits exactly np.save's bytes (dict with 'betasmd')."""
    rng = np.random.default_rng(0)
    shape = (40, 50, 30, 7)
    arr = np.zeros(shape, np.float32)
    rows = {}
    for flat in (3, 17, 5999, 59_999):
        rows[flat] = rng.standard_normal(7).astype(np.float32)
        arr[np.unravel_index(flat, shape[:3])] = rows[flat]
    rows[5] = np.full(7, np.nan, np.float32)
    arr[np.unravel_index(5, shape[:3])] = np.nan
    buf = io.BytesIO()
    write_sparse_glmsingle(buf, shape, rows)
    assert buf.getvalue() == dense_reference_bytes(arr)


# ---------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def release(tmp_path_factory, shared_data):
    pytest.importorskip("transformers")
    pytest.importorskip("sklearn")
    import core.data.readers.release as release_reader
    from core.data.stimuli import read_stimulus_table
    from core.features.dataset import dataset_features

    table = read_stimulus_table(shared_data / "data" / "stimuli" / "complang_paradigms_stims.csv")
    emb = {(p, pool): dataset_features(None, MODEL, p, pool, device="cpu", stimuli=table)
           for p in PARADIGMS for pool in POOLINGS}
    root = tmp_path_factory.mktemp("paper_release")
    truth = build_release(root, shared_data, emb)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(release_reader, "release_cache_dir", lambda: root / "cache")
        events = {}
        split = {p: pd.read_csv(truth.data / "stimuli" / f"split_{p}.csv") for p in PARADIGMS}
        for pid in PIDS:
            for p in PARADIGMS:
                order = pd.read_csv(truth.data / "stimuli" / f"stimuli_order_{pid}_{p}.csv")
                events[pid, p] = ref.load_events(order, split[p])
        yield {"truth": truth, "emb": emb, "events": events, "runs": {}, "refs": {}}


def _project(release, name: str, **params):
    """Run a plugin in-process (cached per parameter set); returns {output name: frame}."""
    from app.plugins.registry import Registry
    from app.plugins.runner import run_analysis

    key = (name, tuple(sorted(params.items())))
    if key not in release["runs"]:
        values = {k: str(v) for k, v in params.items()}
        record = run_analysis(Registry().load(name), release["truth"].data, values, device="cpu")
        release["runs"][key] = {o.name: o.frame for o in record.outputs if hasattr(o, "frame")}
    return release["runs"][key]


def _reference(release, what: str, paradigm: str | None = None):
    key = (what, paradigm)
    if key not in release["refs"]:
        t, ev, emb = release["truth"], release["events"], release["emb"]
        args = (ev, t.betas, PIDS)
        if what == "encoding":
            out = ref.encoding_rois(*args, paradigm, t.ijk, t.roi_of, emb, POOLINGS, N_LAYERS)
        elif what == "noise_ceiling":
            out = ref.noise_ceiling(*args, paradigm, t.ijk, t.roi_of)
        elif what == "quartiles":
            out = ref.quartiles(*args, paradigm, t.ijk, t.roi_of, t.language, emb, POOLINGS, N_LAYERS)
        else:
            out = ref.rsa(*args, t.ijk, t.roi_of, emb, POOLINGS, N_LAYERS)
        release["refs"][key] = out
    return release["refs"][key]


ENCODING = dict(target="rois", model=MODEL, layer="select", pooling="select", selection="paper",
                cv_folds=5, cv_groups="stimulus", seed=0, noise_ceiling="true")


def _encoding_pair(release, paradigm):
    proj = _project(release, "encoding", paradigm=paradigm, **ENCODING)["encoding_summary"]
    mine, _ = _reference(release, "encoding", paradigm)
    merged = mine.merge(proj.rename(columns={"target": "parcel"}), on=["participant", "parcel"],
                        how="left", suffixes=("_ref", "_proj"))
    return merged


# ---------------------------------------------------------------------------------------- encoding


@pytest.mark.slow
def test_reference_recovers_planted_choice(release):
    """Sanity of the reference itself: on sentences the planted (pooling, layer) per ROI wins."""
    _, cv = _reference(release, "encoding", "sentences")
    best = ref.get_best_setting(cv)
    for label, (pooling, layer) in PLANTED.items():
        assert tuple(best[ref.ROI_NAMES[label]]) == (layer, pooling)


@pytest.mark.slow
@pytest.mark.parametrize("paradigm", PARADIGMS)
def test_encoding_choice(release, paradigm):
    m = _encoding_pair(release, paradigm)
    assert m["mean_r_proj"].notna().all(), "project lacks some participant x ROI"
    assert (m["best_layer_ref"] == m["best_layer_proj"]).all(), m[["participant", "parcel", "best_layer_ref",
                                                                   "best_layer_proj"]]
    assert (m["best_pooling_ref"] == m["best_pooling_proj"]).all()


@pytest.mark.slow
@pytest.mark.parametrize("paradigm", PARADIGMS)
def test_encoding_r(release, paradigm):
    m = _encoding_pair(release, paradigm)
    np.testing.assert_allclose(m["mean_r_proj"], m["mean_r_ref"], rtol=0, atol=TOL)


@pytest.mark.slow
@pytest.mark.parametrize("paradigm", PARADIGMS)
def test_noise_ceiling(release, paradigm):
    proj = _project(release, "encoding", paradigm=paradigm, **ENCODING)["encoding_summary"]
    mine = _reference(release, "noise_ceiling", paradigm)
    got = proj.groupby("target")["noise_ceiling"].first()
    for parcel, value in mine.items():
        assert abs(got[parcel] - value) <= TOL, (parcel, got[parcel], value)


# ---------------------------------------------------------------------------------------- quartiles

QUARTILES = dict(model=MODEL, rois="paper", layer="select", pooling="select", selection="paper", cv_folds=5,
                 cv_groups="stimulus", seed=0)


@pytest.mark.slow
@pytest.mark.parametrize("paradigm", ["sentences", "word_clouds"])
def test_quartile_cells(release, paradigm):
    out = _project(release, "quartiles", paradigm=paradigm, **QUARTILES)["quartile_cells_per_model"]
    cells, _, _ = _reference(release, "quartiles", paradigm)
    proj = out.assign(parcel=out["roi"].map(lambda k: ref.ROI_NAMES[int(k)]))
    m = cells.merge(proj, on=["participant", "parcel", "b_C", "b_L"], how="outer", suffixes=("_ref", "_proj"))
    assert m["r_ref"].notna().all() and m["r_proj"].notna().all(), "different quartile cells"
    np.testing.assert_allclose(m["r_proj"], m["r_ref"], rtol=0, atol=TOL)


@pytest.mark.slow
@pytest.mark.parametrize("paradigm", ["sentences", "word_clouds"])
def test_quartile_stats(release, paradigm):
    out = _project(release, "quartiles", paradigm=paradigm, **QUARTILES)["quartile_stats"]
    _, stats, _ = _reference(release, "quartiles", paradigm)
    for parcel, (rc, _rc_sem, rl, _rl_sem) in stats.items():
        row = out[out["roi"].map(lambda k: ref.ROI_NAMES[int(k)]) == parcel].iloc[0]
        assert abs(row["r_C_mean"] - rc) <= TOL, (parcel, row["r_C_mean"], rc)
        assert abs(row["r_L_mean"] - rl) <= TOL, (parcel, row["r_L_mean"], rl)


# ---------------------------------------------------------------------------------------- RSA

RSA = dict(model=MODEL, layer="select", pooling="select", condition="text", rois="paper",
           distance="correlation", comparison="spearman", baseline="single_shuffle", n_permutations=1, seed=0)


def _rsa_pair(release):
    scores = _project(release, "rsa", **RSA)["rsa_scores"]
    mine, choice = _reference(release, "rsa")
    proj = scores.rename(columns={"roi": "parcel", "participant": "id"})
    m = mine.merge(proj, on=["id", "parcel", "pooling", "layer"], how="left")
    return m, scores, choice


@pytest.mark.slow
def test_rsa_rho(release):
    m, _, _ = _rsa_pair(release)
    assert m["rho"].notna().all(), "project lacks some participant x ROI x (pooling, layer)"
    np.testing.assert_allclose(m["rho"], m["spearmanr"], rtol=0, atol=TOL)


@pytest.mark.slow
def test_rsa_choice(release):
    _, scores, choice = _rsa_pair(release)
    for parcel, (pooling, layer) in choice.items():
        picked = scores[(scores["roi"] == parcel) & scores["selected_paper"]]
        assert set(zip(picked["pooling"], picked["layer"], strict=True)) == {(pooling, layer)}, parcel
