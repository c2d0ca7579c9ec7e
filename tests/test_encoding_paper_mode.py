"""Paper mode of the encoding run against direct pandas / numpy references of the paper's procedure:
item order by stimulus path, the participant-pooled group average (trials, or trials x voxels), the
noise ceiling over stimulus items with n = participants, and quartile cells reusing the ROI's choice."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from core.analyses.encoding import item_ranks, keys_from_ranks, make_items
from core.analyses.encoding_run import PaperChoice, Targets, _ceiling, _group_pass
from core.analyses.quartiles_encoding import roi_of_cell
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
