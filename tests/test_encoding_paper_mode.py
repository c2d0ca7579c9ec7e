"""Paper mode of the encoding run against direct pandas / numpy references of the paper's procedure:
item order by stimulus path, the participant-pooled group average (trials, or trials x voxels), the
noise ceiling over stimulus items with n = participants, and quartile cells reusing the ROI's choice."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from core.analyses.encoding.model import item_ranks, keys_from_ranks, make_items
from core.analyses.encoding.run import PaperChoice, Targets, _ceiling, _group_pass
from core.analyses.quartiles.encoding import roi_of_cell
from core.data.concepts import load_concepts
from core.progress import no_progress
from tests.tolerance import assert_f32_close

CONCEPTS = load_concepts()


def test_items_follow_the_stimulus_path_as_the_papers_pivot():
    """With a ``stimulus`` column, per-stimulus items are sorted by it (Pereira's concept numbers), not
    alphabetically; concept items stay in concept order."""
    rng = np.random.default_rng(0)
    concepts = list(CONCEPTS[:12])
    number = {c: n for n, c in enumerate(rng.permutation(concepts), start=1)}  # not alphabetical
    rows = [(c, k, f"stim/sentences/concept{number[c]:03d}_{c}_sentence{k}")
            for c in concepts for k in (1, 2, 3)]
    events = pd.DataFrame([rows[i] for i in rng.permutation(len(rows))],
                          columns=["concept", "stimulus_idx", "stimulus"])
    items = make_items(events, per_concept=False)
    want = sorted(rows, key=lambda r: r[2])
    got = list(zip(items.keys["concept"], items.keys["stimulus_idx"], strict=True))
    assert got == [(c, k) for c, k, _ in want]
    # the averaging matrix follows the keys: item i averages exactly the trials of its stimulus
    for i, (c, k, _) in enumerate(want):
        trials = np.flatnonzero((events["concept"] == c) & (events["stimulus_idx"] == k))
        np.testing.assert_array_equal(np.flatnonzero(items.weights[i]), trials)
    concept_items = make_items(events, per_concept=True)
    assert concept_items.keys["concept"].tolist() == sorted(concepts)
    # ranks round-trip
    back = keys_from_ranks(item_ranks(items.keys), per_concept=False)
    assert back["concept"].tolist() == items.keys["concept"].tolist()


def _fake_participants(seed=1, n_sub=3):
    """Participants with unequal trial counts per concept, two label targets of different sizes."""
    rng = np.random.default_rng(seed)
    concepts = list(CONCEPTS[:15])
    subs = {}
    for s in range(n_sub):
        rows = []
        for c in concepts:
            for k in rng.choice(np.arange(1, 7), size=rng.integers(2, 6), replace=False):
                rows.append((c, int(k)))
        events = pd.DataFrame(rows, columns=["concept", "stimulus_idx"]).sample(frac=1, random_state=s)
        events = events.reset_index(drop=True)
        n_vox = [3 + s, 5 - s]  # voxels per label, different per participant
        voxels = rng.standard_normal((len(events), sum(n_vox))).astype(np.float32)
        subs[f"P{s}"] = SimpleNamespace(events={"word_clouds": events}, voxels=voxels, n_vox=n_vox,
                                        release=lambda: None)
    return subs


def _prepare(subs, per_concept):
    def prepare(pid):
        d = subs[pid]
        items = make_items(d.events["word_clouds"], per_concept)
        a = d.n_vox[0]

        def values(paradigm):
            return np.stack([d.voxels[:, :a].mean(1), d.voxels[:, a:].mean(1)], axis=1)

        return d, items, Targets("rois", np.array(["A", "B"]), np.array([1, 2]), values,
                                 np.array(d.n_vox, float))
    return prepare


def _rows(subs, voxel_level):
    """The paper's long table: one row per trial x target (x voxel with voxel_level)."""
    frames = []
    for pid, d in subs.items():
        ev = d.events["word_clouds"]
        a = d.n_vox[0]
        for t, cols in ((1, slice(0, a)), (2, slice(a, None))):
            block = d.voxels[:, cols]
            if voxel_level:
                for v in range(block.shape[1]):
                    frames.append(ev.assign(target=t, beta=block[:, v], id=pid))
            else:
                frames.append(ev.assign(target=t, beta=block.mean(1), id=pid))
    return pd.concat(frames, ignore_index=True)


def test_group_average_pools_all_trials_of_all_participants():
    subs = _fake_participants()
    for voxel_level in (False, True):
        acc, _ = _group_pass(None, tuple(subs), "word_clouds", _prepare(subs, True), voxel_level, False,
                             no_progress, None)
        rows = _rows(subs, voxel_level)
        want = rows.groupby(["concept", "target"])["beta"].mean().unstack("target")  # the paper's groupby
        keys = keys_from_ranks(acc.items, per_concept=True)
        assert_f32_close(acc.mean(), want.loc[keys["concept"]].to_numpy())
    # the old way (mean of participant means) differs when trial counts differ
    per_sub = rows.groupby(["id", "concept", "target"])["beta"].mean().groupby(["concept", "target"]).mean()
    assert not np.allclose(per_sub.unstack("target").loc[keys["concept"]].to_numpy(), acc.mean(), atol=1e-4)


def _nsd(data: np.ndarray, n: int) -> float:
    """The paper's NSD_noiseceiling on one (n_items, n_participants) table, written out."""
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sd_noise = np.sqrt(np.nanmean(np.nanstd(data, axis=1, ddof=1) ** 2))
        signal = np.var(np.nanmean(data, axis=1), ddof=1) - sd_noise**2 / data.shape[1]
    ncsnr = np.sqrt(max(signal, 0)) / sd_noise
    return float(np.sqrt(ncsnr**2 / (ncsnr**2 + 1 / n)))


def test_noise_ceiling_over_stimulus_items_with_n_participants():
    """Word clouds are encoded per concept, but the ceiling uses every (concept, stimulus_idx) item,
    pivoted to items x participants, with n = the number of participants (the paper's noise_ceiling)."""
    subs = _fake_participants(seed=4, n_sub=4)
    acc, ceiling = _group_pass(None, tuple(subs), "word_clouds", _prepare(subs, True), False, True,
                               no_progress, None)
    nc = _ceiling(ceiling, acc.keys)
    rows = _rows(subs, voxel_level=False)
    for t, col in ((1, 0), (2, 1)):
        table = rows[rows["target"] == t].pivot_table(index=["concept", "stimulus_idx"], columns="id",
                                                      values="beta", aggfunc="mean")
        assert table.shape[1] == 4 and len(table) > 15  # stimulus items, not concepts
        assert nc.nc[col] == pytest.approx(_nsd(table.to_numpy(), n=4), rel=1e-6)
    np.testing.assert_array_equal(nc.n, [4, 4])


def test_cells_reuse_their_rois_choice():
    choice = PaperChoice(np.array([1, 2, 3]), np.array([0, 1, 0]), np.array([4, 2, 7]), curves=None)
    codes = np.array([101, 116, 205, 301, 310])
    pooling, layer = choice.for_keys(roi_of_cell(codes))
    np.testing.assert_array_equal(pooling, [0, 0, 1, 0, 0])
    np.testing.assert_array_equal(layer, [4, 4, 2, 7, 7])


def _voxel_participants(seed=2, n_sub=3, n_union=40):
    """Voxel targets on a union grid of ``n_union`` keys: each participant has a different sorted subset
    (so chunks hit all columns, a contiguous run, scattered columns, or none), with planted signal."""
    rng = np.random.default_rng(seed)
    concepts = list(CONCEPTS[:24])
    latent = {c: rng.standard_normal(4) for c in concepts}
    mixing = rng.standard_normal((4, n_union))
    subs = {}
    for s in range(n_sub):
        rows = [(c, int(k)) for c in concepts for k in rng.choice(np.arange(1, 7), 3, replace=False)]
        events = pd.DataFrame(rows, columns=["concept", "stimulus_idx"]).sample(frac=1, random_state=s)
        events = events.reset_index(drop=True)
        keys = np.sort(rng.choice(n_union, n_union - 6 - 4 * s, replace=False))
        signal = np.stack([latent[c] for c in events["concept"]]) @ mixing[:, keys]
        values = (signal + rng.standard_normal(signal.shape)).astype(np.float32)
        subs[f"P{s}"] = SimpleNamespace(events={"word_clouds": events}, keys=keys, values=values,
                                        release=lambda: None)
    return subs, latent


def test_streamed_group_pass_equals_one_chunk():
    """Paper selection and noise ceiling streamed over chunks of union voxels equal the one-chunk pass."""
    from core.analyses.encoding.run import group_results
    from core.analyses.encoding.selection import paper_selection

    subs, latent = _voxel_participants()

    def prepare(pid):
        d = subs[pid]
        items = make_items(d.events["word_clouds"], True)
        return d, items, Targets("voxels", d.keys.astype(str), d.keys, lambda paradigm: d.values,
                                 np.ones(d.keys.size))

    cache = {}

    def select(items, Yg, progress):
        if not cache:  # the same features for every chunk, as run_encoding
            keys = keys_from_ranks(items, True)
            rng = np.random.default_rng(0)
            base = np.stack([latent[c] for c in keys["concept"]])
            cache["X"] = {"mean": np.stack([base @ rng.standard_normal((4, 12)) * w
                                            + rng.standard_normal((len(keys), 12)) for w in (0.0, 1.0, 3.0)],
                                           axis=1).astype(np.float32)}
            fold = np.arange(len(keys)) % 4
            cache["folds"] = [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(4)]
        return paper_selection(cache["X"], Yg, cache["folds"], progress=progress)

    runs = []
    for chunk_bytes in (1 << 30, 1):  # one chunk; one key per chunk
        seen = []
        runs.append(group_results(tuple(subs), "word_clouds", prepare, False, True, select, chunk_bytes,
                                  lambda f, m, seen=seen: seen.append(f), None))
        assert seen[-1] == pytest.approx(1.0) and seen == sorted(seen)
    (keys1, choice1, nc1), (keys2, choice2, nc2) = runs
    np.testing.assert_array_equal(keys1, np.unique(np.concatenate([d.keys for d in subs.values()])))
    np.testing.assert_array_equal(keys1, keys2)
    np.testing.assert_array_equal(choice1.pooling, choice2.pooling)
    np.testing.assert_array_equal(choice1.layer, choice2.layer)
    assert len(set(choice1.layer.tolist())) > 1  # the planted layers are told apart
    assert_f32_close(choice2.curves.r, choice1.curves.r)
    a1, a2 = choice1.curves.alpha, choice2.curves.alpha
    informative = (a1 > 1e-6) & (a1 < 1e7)  # outside, the LOO curve is flat and the choice rounding noise
    assert informative.mean() > 0.8
    np.testing.assert_array_equal(a2[informative], a1[informative])
    for field in ("nc", "ncsnr", "n"):
        assert_f32_close(getattr(nc2, field), getattr(nc1, field))
    # and against the unchunked accumulator itself
    acc, ceiling = _group_pass(None, tuple(subs), "word_clouds", prepare, False, True, no_progress, None)
    assert_f32_close(_ceiling(ceiling, acc.keys).nc, nc1.nc)


def test_group_chunk_columns():
    from core.analyses.encoding.run import _chunk_columns

    keys = np.array([2, 3, 5, 8, 9])
    assert _chunk_columns(keys, np.array([1, 2, 3, 5, 8, 9, 11])) is None
    assert _chunk_columns(keys, np.array([3, 4, 5])) == slice(1, 3)
    assert _chunk_columns(keys, np.array([6, 7])).size == 0


def test_streamed_group_pass_memory_is_bounded_by_the_chunk():
    """tracemalloc peak of the streamed group pass (noise ceiling) stays under ``chunk_bytes`` plus what
    one participant's responses take, while the one-chunk pass grows with the union of voxels."""
    import tracemalloc

    from core.analyses.encoding.run import group_results

    subs, _ = _voxel_participants(seed=3, n_union=6000)

    def prepare(pid):
        d = subs[pid]
        return d, make_items(d.events["word_clouds"], True), Targets(
            "voxels", d.keys.astype(str), d.keys, lambda paradigm: d.values, None)

    peaks = {}
    for chunk_bytes in (1 << 30, 2 << 20):
        tracemalloc.start()
        group_results(tuple(subs), "word_clouds", prepare, False, True, None, chunk_bytes)
        peaks[chunk_bytes] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    participant = max(d.values.nbytes for d in subs.values())
    assert peaks[2 << 20] < (2 << 20) + 2 * participant
    assert peaks[1 << 30] > 3 * peaks[2 << 20]
