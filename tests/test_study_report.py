"""The study's split encoding tasks (per-participant parts merged = one unsplit run), its group statistics
and figures, and report.html rendered in a real headless Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from core.study.merge import merge_parts
from core.study.report import build_report


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from core.demo.synthetic import make_demo

    return make_demo(tmp_path_factory.mktemp("split") / "tiny", n_participants=3, seed=1, size="tiny")


def _frames_equal(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("target", ["rois", "voxels"])
def test_per_participant_parts_merged_equal_one_unsplit_run(tiny, tmp_path, monkeypatch, target):
    """The study's split (one encoding task per participant, then a merge task) gives the tables and
    maps of one run over all participants, through the same plugin code path (run_analysis)."""
    from app.plugins.registry import Registry
    from app.plugins.runner import run_analysis

    monkeypatch.setenv("CBS_FEATURE_CACHE", str(tmp_path / "features"))
    plugin = Registry().load("encoding")
    params = {"model": "minilm", "paradigm": "word_clouds", "target": target, "layer": "6",
              "layer_maps": "false"}
    run_analysis(plugin, tiny, {**params, "participants": "all"}, tmp_path / "whole", device="cpu")
    parts = []
    for pid in ("M01", "M02", "M03"):
        run_analysis(Registry().load("encoding"), tiny, {**params, "participants": pid}, tmp_path / pid,
                     device="cpu")
        parts.append(tmp_path / pid)
    report = merge_parts(parts, tmp_path / "merged")
    assert "encoding_summary.csv" in report["concatenated"]
    for name in ("encoding_scores.csv", "encoding_summary.csv", "layer_curves.csv"):
        _frames_equal(pd.read_csv(tmp_path / "merged" / name), pd.read_csv(tmp_path / "whole" / name))
    maps = sorted(p.name for p in (tmp_path / "whole").glob("sub-*.nii*"))
    assert (len(maps) == 6) == (target == "voxels")
    for name in maps:  # each participant's map was written by exactly one part
        assert name in report["copied"]
        a = np.asarray(nib.load(tmp_path / "merged" / name).dataobj, np.float32)
        b = np.asarray(nib.load(tmp_path / "whole" / name).dataobj, np.float32)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7, equal_nan=True)
    prov = json.loads((tmp_path / "merged" / "provenance.json").read_text())
    assert prov["parameters"]["participants"] == "M01,M02,M03" and len(prov["merged_from"]) == 3


def test_graph_splits_participants_where_independent_and_targets_into_chunks(tiny, tmp_path):
    from app.plugins.study_task import plan, read_recipe

    base = (f'dataset = "{tiny}"\nmodels = ["minilm"]\nparadigms = ["word_clouds"]\n'
            '[analyses.encoding]\ntargets = ["rois", "areas"]\n')
    (tmp_path / "fixed.toml").write_text(base + "layer = 6\n")
    names = {t.name: t for t in plan(read_recipe(tmp_path / "fixed.toml"), tiny)}
    merge = names["encoding/minilm/word_clouds/rois"]
    assert merge.kind == "merge" and merge.upstream == [f"encoding/minilm/word_clouds/rois/sub-M0{i}"
                                                        for i in (1, 2, 3)]
    assert names["encoding/minilm/word_clouds/rois/sub-M02"].params["participants"] == "M02"
    areas = names["encoding/minilm/word_clouds/areas"]  # the whole-brain comparison: made by the merge
    assert areas.kind == "merge" and len(areas.upstream) == 3
    assert names["figures/encoding"].upstream == ["encoding/minilm/word_clouds/rois",
                                                  "encoding/minilm/word_clouds/areas"]
    # the paper's selection on participant-pooled data and the noise ceiling couple the participants,
    # not the targets: chunks only (voxels: 8 by default; areas: as the recipe says)
    (tmp_path / "paper.toml").write_text('preset = "paper"\n' + base.replace(
        '"areas"]\n', '"areas", "voxels"]\nchunks = {areas = 3}\n'))
    tasks = plan(read_recipe(tmp_path / "paper.toml"), tiny)
    assert not any("/sub-" in t.name for t in tasks)
    parts = {}
    for t in tasks:
        if t.part_of:
            parts.setdefault(t.part_of, []).append(t.params["target_chunk"])
    assert parts == {"encoding/minilm/word_clouds/areas": ["1/3", "2/3", "3/3"],
                     "encoding/minilm/word_clouds/voxels": [f"{i}/8" for i in range(1, 9)]}
    merge = {t.name: t for t in tasks}["encoding/minilm/word_clouds/areas"]
    assert merge.results_from == "consistency" or "consistency" not in {t.name for t in tasks}


def test_group_statistics_match_scipy():
    from scipy import stats

    from core.figures.study_figures import group_statistics

    rng = np.random.default_rng(0)
    rows = []
    for target, shift in (("a", 0.3), ("b", 0.0), ("c", -0.1)):
        for pid in range(8):
            rows.append({"participant": pid, "model": "m", "paradigm": "sentences", "target_kind": "rois",
                         "target": target, "mean_r": shift + rng.normal(0, 0.1)})
    table = group_statistics(pd.DataFrame(rows)).set_index("target")
    frame = pd.DataFrame(rows)
    p = []
    for target in ("a", "b", "c"):
        r = frame.loc[frame["target"] == target, "mean_r"].to_numpy()
        ref = stats.ttest_1samp(r, 0, alternative="greater")
        assert table.loc[target, "n"] == 8
        np.testing.assert_allclose(table.loc[target, "mean_r"], r.mean(), rtol=1e-12)
        np.testing.assert_allclose(table.loc[target, "sem_r"], r.std(ddof=1) / np.sqrt(8), rtol=1e-12)
        np.testing.assert_allclose(table.loc[target, "p"], ref.pvalue, rtol=1e-10)
        p.append(ref.pvalue)
    order = np.argsort(p)  # Benjamini-Hochberg by hand: q_(i) = min_{j >= i} p_(j) m / j
    ranked = np.minimum.accumulate((np.array(p)[order] * 3 / np.arange(1, 4))[::-1])[::-1]
    np.testing.assert_allclose(table.loc[["a", "b", "c"], "q"].to_numpy()[order], ranked, rtol=1e-10)


def _fake_study(root: Path) -> tuple[dict, dict[str, tuple[int, int]]]:
    """A study folder with a figures task (three PNGs of known size) and one analysis task."""
    sizes = {}
    fig_dir = root / "tasks" / "kfig"
    fig_dir.mkdir(parents=True)
    for stem, (w, h) in {"fig3_wholebrain_m": (4, 3), "fig4_quartile_lines": (5, 2),
                         "fig5_rsa_bars": (3, 3)}.items():
        fig = Figure(figsize=(w, h))
        ax = fig.subplots()
        ax.plot([0, 1, 2], [1, 0, 1], color="red", lw=8)
        fig.savefig(fig_dir / f"{stem}.png", dpi=50)
        sizes[stem] = (w * 50, h * 50)
    pd.DataFrame({"model": ["m"], "target": ["ROI 1"], "mean_r": [0.2]}).to_csv(
        fig_dir / "group_statistics.csv", index=False)
    (fig_dir / "task.json").write_text(json.dumps({"seconds": 1.5}))
    enc = root / "tasks" / "kenc"
    enc.mkdir()
    pd.DataFrame({"target": ["ROI 2", "ROI 1"], "mean_r": [0.1, 0.3]}).to_csv(enc / "encoding_summary.csv",
                                                                             index=False)
    (enc / "provenance.json").write_text(json.dumps({"parameters": {"layer": 6}, "presets_matched": [],
                                                     "versions": {"numpy": np.__version__}}))
    (enc / "task.json").write_text(json.dumps({"seconds": 2.0}))
    study = {"name": "fake", "recipe": 'name = "fake"', "planned": "now", "tasks": [
        {"name": "encoding/m/sentences/rois", "kind": "plugin", "key": "kenc"},
        {"name": "figures/encoding", "kind": "figures", "key": "kfig"},
        {"name": "report", "kind": "report", "key": "krep"}]}
    return study, sizes


def test_report_holds_figures_tables_settings_and_timings(tmp_path):
    study, sizes = _fake_study(tmp_path)
    settings = pd.DataFrame([{"task": "encoding/m/sentences/rois", "parameter": "selection",
                              "value": "nested", "paper": "paper", "follows_paper": "no",
                              "leakage": "leakage-free"}])
    page = build_report(tmp_path, study, tmp_path / "report.html", settings).read_text()
    assert page.count('<img class="figure"') == 3 and page.count("data:image/png;base64,") == 3
    assert "Settings: paper or leakage-free" in page and "leakage-free" in page
    assert "Time per task kind" in page and "encoding_summary.csv" in page
    assert 'name = &quot;fake&quot;' in page
    assert "<script" in page and "http" not in page.replace("http-equiv", "")  # self-contained


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_report_renders_in_headless_chromium(tmp_path):
    """Chromium loads the page, decodes every embedded figure at its true size (the page's own script
    records naturalWidth x naturalHeight), runs the sort script, and renders a non-blank screenshot."""
    browser = _chromium()
    if browser is None:
        pytest.skip("chromium is not installed (Debian package 'chromium')")
    study, sizes = _fake_study(tmp_path)
    page = build_report(tmp_path, study, tmp_path / "report.html")
    args = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
            f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*args, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    import re

    decoded = dict(re.findall(r'<img class="figure" alt="([^"]+)"[^>]*data-decoded="(\d+x\d+)"', dom.stdout)
                   or re.findall(r'<img class="figure"[^>]*?alt="([^"]+)"[^>]*?data-decoded="(\d+x\d+)"',
                                 dom.stdout))
    assert decoded == {stem: f"{w}x{h}" for stem, (w, h) in sizes.items()}
    shot = tmp_path / "shot.png"
    run = subprocess.run([*args, "--window-size=1200,1600", f"--screenshot={shot}", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and shot.is_file(), run.stderr[-2000:]
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("RGB"), np.int16)
    red = (pixels[..., 0] > 200) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    assert pixels.std() > 10 and red.sum() > 500  # the figures' red lines are on the rendered page


def test_priorities_start_the_critical_path_first(tiny, tmp_path):
    """Bottom-level priorities: the heaviest chain (the larger model's sentence features, then what
    needs them) outranks everything else, and every task outranks its dependants."""
    from app.plugins.study_task import plan, read_recipe
    from core.study.graph import priorities

    (tmp_path / "r.toml").write_text(f'dataset = "{tiny}"\nmodels = ["minilm", "smollm2-135m"]\n'
                                     'paradigms = ["word_clouds", "sentences"]\n'
                                     '[analyses.encoding]\ntargets = ["rois"]\nlayer = 3\n')
    tasks = plan(read_recipe(tmp_path / "r.toml"), tiny)
    level = priorities(tasks)
    features = sorted((t.name for t in tasks if t.kind == "features"), key=level.get, reverse=True)
    assert features[0] == "features/smollm2-135m/sentences"
    assert level["features/minilm/word_clouds"] == min(level[f] for f in features)
    for t in tasks:
        assert all(level[u] > level[t.name] for u in t.upstream), t.name
    # a path's level is the sum of its weights down to the report
    by = {t.name: t for t in tasks}
    chain = ["features/smollm2-135m/sentences", "encoding/smollm2-135m/sentences/rois/sub-M01",
             "encoding/smollm2-135m/sentences/rois", "figures/encoding", "report"]
    assert level[chain[0]] >= round(100 * sum(by[n].weight for n in chain)) - len(chain)
