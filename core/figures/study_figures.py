"""The study's group steps and the paper's figures over every finished analysis task of a study.

Each figure is written as PNG and SVG with the CSV behind it (the numbers it draws):

* ``fig2_group_consistency``: the consistency task's group probabilistic map (fraction of participants
  with a significant voxel) projected onto fsaverage5 and drawn on the inflated cortex with nilearn's
  matplotlib surface plotting (headless; the app's PyVista cortex renderer needs a GL context);
  CSV = value per vertex and hemisphere.
* ``fig3_wholebrain_<model>``: area consistency vs mean predictivity, one panel per paradigm (Fig. 3);
  ``fig9_wholebrain_nc_<model>`` / ``fig9_wholebrain_raw_c_<model>``: its Fig. 9 variants where the
  encoding tasks wrote them.
* ``fig4_quartile_lines`` and ``fig12_quartile_heatmaps``: the quartile tasks' cells averaged over
  models, as the quartiles plugin does for one run (Figs. 4 and 12).
* ``fig5_rsa_bars``: the RSA tasks' participant scores and group tests (Fig. 5).
* ``group_statistics.csv``: per model x paradigm x target kind x target, the mean, SEM and one-sided
  one-sample t-test of the participants' cross-validated r against 0, with Benjamini-Hochberg q within
  each model x paradigm x target kind.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from core.errors import DataError


def _read(folders: Iterable[str | Path], name: str, model_column: bool = False) -> pd.DataFrame:
    """Concatenate ``name`` (a CSV) over the task folders that have it (empty frame if none)."""
    frames = []
    for folder in folders:
        path = Path(folder) / name
        if not path.is_file():
            continue
        try:
            frame = pd.read_csv(path)
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise DataError(path, f"cannot read a task's table ({exc})") from None
        if model_column and "model" not in frame:
            frame.insert(0, "model", _model_of(Path(folder)))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _model_of(folder: Path) -> str:
    try:
        prov = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "?"
    return str(prov.get("parameters", {}).get("model", "?"))


def _save(fig: Figure, table: pd.DataFrame, out: Path, stem: str, written: list[str]) -> None:
    fig.savefig(out / f"{stem}.png", dpi=110)
    fig.savefig(out / f"{stem}.svg")
    table.to_csv(out / f"{stem}.csv", index=False)
    written.append(stem)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in str(text))


def group_statistics(summary: pd.DataFrame) -> pd.DataFrame:
    """Group test of encoding r per target.

    Parameters
    ----------
    summary : ``encoding_summary`` rows (participant, model, paradigm, target_kind, target, mean_r).

    Returns
    -------
    One row per model x paradigm x target_kind x target: n (participants), mean_r, sem_r (std/sqrt(n),
    ddof=1), t, p (one-sided, mean > 0; NaN for n < 2) and q (Benjamini-Hochberg within model x
    paradigm x target_kind).
    """
    from scipy import stats

    from core.stats.correction import fdr_bh

    keys = ["model", "paradigm", "target_kind", "target"]
    rows = []
    for key, sub in summary.groupby(keys, sort=False):
        r = sub["mean_r"].to_numpy(np.float64)
        r = r[np.isfinite(r)]
        n = len(r)
        mean = float(r.mean()) if n else np.nan
        sem = float(r.std(ddof=1) / np.sqrt(n)) if n > 1 else np.nan
        t, p = (np.nan, np.nan)
        if n > 1 and np.ptp(r) > 0:
            res = stats.ttest_1samp(r, 0.0, alternative="greater")
            t, p = float(res.statistic), float(res.pvalue)
        rows.append({**dict(zip(keys, key, strict=True)), "n": n, "mean_r": mean, "sem_r": sem, "t": t,
                     "p": p})
    table = pd.DataFrame(rows, columns=[*keys, "n", "mean_r", "sem_r", "t", "p"])
    table["q"] = np.nan
    for _, idx in table.groupby(keys[:3], sort=False).groups.items():
        p = table.loc[idx, "p"].to_numpy(np.float64)
        ok = np.isfinite(p)
        if ok.any():
            q = np.full(len(p), np.nan)
            q[ok] = fdr_bh(p[ok])
            table.loc[idx, "q"] = q
    return table


def fig2_surface(map_path: Path) -> tuple[Figure, pd.DataFrame]:
    """Fig. 2: the group map on fsaverage5's inflated cortex (left and right, lateral and medial)."""
    import nibabel as nib
    from nilearn import datasets, plotting
    from nilearn.surface import vol_to_surf

    fsaverage = datasets.load_fsaverage("fsaverage5")
    img = nib.load(str(map_path))
    values = np.nan_to_num(np.asarray(img.dataobj, np.float32))  # outside the mask: 0, not NaN
    img = nib.Nifti1Image(values, img.affine)
    sulcal = datasets.load_fsaverage_data(mesh="fsaverage5", data_type="sulcal")
    fig = Figure(figsize=(9, 6.5), layout="constrained")
    rows = []
    texture = {}
    for hemi in ("left", "right"):
        texture[hemi] = np.nan_to_num(vol_to_surf(img, fsaverage["pial"].parts[hemi], radius=3.0,
                                                  interpolation="linear"))
        rows.append(pd.DataFrame({"hemisphere": hemi, "vertex": np.arange(len(texture[hemi])),
                                  "value": texture[hemi]}))
    vmax = float(max(np.max(np.abs(t)) for t in texture.values())) or 1.0
    for i, hemi in enumerate(("left", "right")):
        for j, view in enumerate(("lateral", "medial")):
            ax = fig.add_subplot(2, 2, 2 * j + i + 1, projection="3d")
            plotting.plot_surf_stat_map(
                fsaverage["inflated"].parts[hemi], texture[hemi], hemi=hemi, view=view,
                bg_map=sulcal.data.parts[hemi], threshold=1e-3, cmap="hot", vmax=vmax, colorbar=False,
                axes=ax, figure=fig, title=f"{hemi} {view}")
            for artist in ax.collections:  # the SVG keeps the mesh as an image, not 20k polygons
                artist.set_rasterized(True)
    fig.suptitle("Fig. 2: fraction of participants with a significant consistency (group map)")
    return fig, pd.concat(rows, ignore_index=True)


def study_figures(groups: dict[str, list[str | Path]], out: str | Path) -> list[str]:
    """Write the group steps and figures of the task folders in ``groups`` into ``out``.

    groups : figure group -> finished task folders (``consistency``, ``encoding``, ``quartiles``,
        ``rsa``); missing groups are skipped. Returns the stems written.
    """
    from core.figures.encoding_figures import quartile_heatmaps, quartile_lines, wholebrain_scatter

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    for folder in groups.get("consistency", []):
        maps = sorted(Path(folder).glob("group_probabilistic*.nii*"))
        if maps:
            fig, table = fig2_surface(maps[0])
            _save(fig, table, out, "fig2_group_consistency", written)
            break
    encoding = groups.get("encoding", [])
    summary = _read(encoding, "encoding_summary.csv")
    if not summary.empty:
        group_statistics(summary).to_csv(out / "group_statistics.csv", index=False)
        written.append("group_statistics")
    for stem, x, y, xlabel, ylabel in (
        ("wholebrain", "consistency", "mean_r", "semantic consistency", "mean LM predictivity (Pearson r)"),
        ("wholebrain_nc", "consistency", "mean_r_nc", "semantic consistency", "mean r / noise ceiling"),
        ("wholebrain_raw_c", "C_area", "mean_r", "raw area C", "mean LM predictivity (Pearson r)"),
    ):
        areas = _read(encoding, f"{stem}_areas.csv", model_column=True)
        corr = _read(encoding, f"{stem}_correlation.csv", model_column=True)
        fig_id = "fig3" if stem == "wholebrain" else "fig9"
        for model, sub in (areas.groupby("model", sort=False) if not areas.empty else ()):
            c = corr[corr["model"] == model] if not corr.empty else None
            fig = wholebrain_scatter(sub, c, x=x, y=y, yerr=y.replace("mean", "sem"), xlabel=xlabel,
                                     ylabel=ylabel)
            fig.suptitle(f"{model}")
            _save(fig, sub, out, f"{fig_id}_{stem}_{_slug(model)}", written)
    cells = _read(groups.get("quartiles", []), "quartile_cells_per_model.csv")
    if not cells.empty:
        from core.analyses.quartiles import average_over_models, cell_means

        means = cell_means(average_over_models(cells))
        _save(quartile_lines(means), means, out, "fig4_quartile_lines", written)
        _save(quartile_heatmaps(means), means, out, "fig12_quartile_heatmaps", written)
    rsa = groups.get("rsa", [])
    scores, group = _read(rsa, "rsa_scores.csv"), _read(rsa, "rsa_group.csv")
    if not scores.empty and not group.empty:
        from core.figures.rsa_figure import rsa_bar_figure

        _save(rsa_bar_figure(scores, group), group, out, "fig5_rsa_bars", written)
    (out / "figures.json").write_text(json.dumps({"written": written}, indent=1), encoding="utf-8")
    return written
