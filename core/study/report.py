"""The study's ``report.html``: one self-contained page (figures embedded as PNG data URIs, sortable
tables with a few lines of inline JS, the recipe, each task's parameters, provenance and timing, and a
table of which settings follow the paper and which are leakage-free)."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import pandas as pd

from core.study.folder import read_log, task_dir

MAX_ROWS = 200  # rows of each table shown on the page (the CSV next to it has all)

_SORT_JS = """
window.addEventListener('load', function () {  // each figure's decoded size (0x0: it did not decode)
  document.querySelectorAll('img').forEach(function (img) {
    img.dataset.decoded = img.naturalWidth + 'x' + img.naturalHeight;
  });
});
document.querySelectorAll('table.sortable th').forEach(function (th, col) {
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0];
    var rows = Array.from(body.rows), asc = th.dataset.asc !== '1';
    rows.sort(function (a, b) {
      var x = a.cells[col].textContent, y = b.cells[col].textContent;
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    th.dataset.asc = asc ? '1' : '0';
  });
});
"""

_CSS = """
body{font-family:sans-serif;margin:2em;max-width:1200px} table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:2px 6px;font-size:12px} th{background:#eee;cursor:pointer}
.failed{color:#b00} .blocked{color:#a60} img{max-width:100%;border:1px solid #ddd}
pre{background:#f6f6f6;padding:1em}
"""


def _table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>"
                   for row in frame.head(MAX_ROWS).itertuples(index=False))
    more = f"<p>{len(frame) - MAX_ROWS} more rows in the CSV.</p>" if len(frame) > MAX_ROWS else ""
    return f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>{more}'


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _img(png: Path, caption: str) -> str:
    data = base64.b64encode(png.read_bytes()).decode()
    return (f'<figure><img class="figure" alt="{html.escape(png.stem)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _figures_section(folders: list[Path]) -> str:
    """The study's figures (the ``figures/<group>`` tasks), in figure order: each PNG embedded, its SVG
    and CSV named; then the group statistics. Empty when no figures task has finished."""
    if not folders:
        return ""
    parts = ["<h2 id='figures'>Figures</h2>"]
    pngs = [png for folder in folders for png in folder.glob("fig*.png")]
    for png in sorted(pngs, key=lambda p: (len(p.stem.split("_")[0]), p.stem)):
        parts.append(_img(png, f"{png.stem}: PNG, SVG and the CSV behind it ({png.stem}.csv) in "
                               f"{png.parent}"))
    for stats in (folder / "group_statistics.csv" for folder in folders):
        if stats.is_file():
            parts.append("<h3>Group statistics (one-sided t-test of r > 0 over participants, BH q)</h3>"
                         + _table(pd.read_csv(stats)))
    return "\n".join(parts)


def _provenance(prov: dict) -> str:
    keep = {k: prov[k] for k in ("analysis", "dataset", "device", "created", "versions", "platform", "models",
                                 "seed", "command") if k in prov}
    text = html.escape(json.dumps(keep, indent=1, default=str))
    return f"<details><summary>provenance</summary><pre>{text}</pre></details>"


def _task_section(name: str, folder: Path) -> str:
    parts = [f'<h2 id="{html.escape(name)}">{html.escape(name)}</h2>']
    prov_path = folder / "provenance.json"
    if prov_path.is_file():
        prov = json.loads(prov_path.read_text(encoding="utf-8"))
        matched = ", ".join(prov.get("presets_matched", [])) or "none (leakage-free or custom settings)"
        params = ", ".join(f"{k}={v}" for k, v in prov.get("parameters", {}).items())
        parts.append(f"<p><b>follows presets:</b> {html.escape(matched)}<br><b>parameters:</b> "
                     f"{html.escape(params)}<br><b>wall time:</b> {prov.get('wall_time_s', '?')} s</p>")
        parts.append(_provenance(prov))
    for png in sorted(folder.glob("*.png")):
        parts.append(_img(png, png.name))
    for csv in sorted(folder.glob("*.csv")):
        try:
            frame = pd.read_csv(csv)
        except (OSError, ValueError, pd.errors.ParserError):
            continue
        parts.append(f"<h3>{html.escape(csv.name)}</h3>{_table(frame)}")
    return "\n".join(parts)


def build_report(study_dir: str | Path, study: dict, out: str | Path,
                 settings: pd.DataFrame | None = None) -> Path:
    """Write the report of the study in ``study_dir`` (``study`` = the study.json record) to ``out``.

    settings : optional rows (task, parameter, value, paper value, follows paper, leakage) that the app
        derives from the plugins' presets; shown as the "Settings" table.
    """
    study_dir = Path(study_dir)
    tasks = study["tasks"]
    last = {}
    for event in read_log(study_dir):
        last[event.get("key")] = event
    rows = []
    for t in tasks:
        done = task_dir(study_dir, t["key"]) / "task.json"
        state = "finished" if done.is_file() else last.get(t["key"], {}).get("state", "pending")
        seconds = json.loads(done.read_text(encoding="utf-8")).get("seconds", "") if done.is_file() else ""
        rows.append({"task": t["name"], "state": state, "seconds": seconds, "key": t["key"]})
    overview = pd.DataFrame(rows)
    finished = [t for t in tasks if (task_dir(study_dir, t["key"]) / "task.json").is_file()]
    figures = [task_dir(study_dir, t["key"]) for t in finished if t["kind"] == "figures"]
    sections = [_figures_section(figures)]
    sections += [_task_section(t["name"], task_dir(study_dir, t["key"])) for t in finished
                 if t["kind"] in ("plugin", "merge")]
    timings = overview[overview["seconds"] != ""].copy()
    by_kind = ""
    if not timings.empty:
        timings["kind"] = timings["task"].str.split("/").str[0]
        timings["seconds"] = timings["seconds"].astype(float)
        by_kind = _table(timings.groupby("kind", sort=False)["seconds"].agg(["count", "sum", "max"])
                         .reset_index().rename(columns={"sum": "total_s", "max": "max_s"}))
    settings_html = "" if settings is None or settings.empty else (
        "<h2 id='settings'>Settings: paper or leakage-free</h2>" + _table(settings))
    name, planned = html.escape(str(study.get("name", ""))), html.escape(str(study.get("planned", "?")))
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>Study report</title>"
            f"<style>{_CSS}</style></head><body><h1>Study report: {name}</h1>"
            f"<p>planned {planned}; {len(finished)} of {len(tasks)} tasks "
            f"finished</p><h2>Tasks (per-task timings)</h2>{_table(overview)}"
            f"<h3>Time per task kind</h3>{by_kind}{settings_html}"
            f"<h2>Recipe</h2><pre>{html.escape(study.get('recipe', ''))}</pre>"
            + "\n".join(sections) + f"<script>{_SORT_JS}</script></body></html>")
    out = Path(out)
    out.write_text(page, encoding="utf-8")
    return out
