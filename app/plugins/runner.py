"""Run a plugin end to end: resolve parameters and device, run, write outputs and provenance.json
atomically. Shared by the CLI and the GUI workers (Qt-free)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from app.plugins.base import AnalysisPlugin, RunInputs
from app.plugins.presets import apply_preset, matching_presets
from core.backend import resolve_device
from core.export.atomic import atomic_output_dir
from core.export.manifest import MANIFEST, read_manifest, remove_stale, write_manifest
from core.export.provenance import build_provenance, write_provenance
from core.export.writers import describe_output, write_outputs
from core.progress import CancelToken, NeverCancel, ProgressFn, check_cancel, no_progress


@dataclass
class RunRecord:
    outputs: list
    params: dict
    provenance: dict
    paths: list[Path]


def run_analysis(
    plugin_cls: type[AnalysisPlugin],
    dataset_path: str | Path | None,
    params: dict | None = None,
    out_dir: str | Path | None = None,
    device: str = "auto",
    results_dir: str | Path | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    preset: str | None = None,
) -> RunRecord:
    """Run ``plugin_cls`` and, when ``out_dir`` is given, write its outputs there atomically, with a
    ``manifest.json`` of the files written; files an earlier run listed there and this run does not
    produce are removed, nothing else.

    ``params`` may hold strings (from ``--set``) or typed values; they are parsed and validated first,
    so bad parameters fail before any work. ``preset`` (e.g. ``"paper"``) sets the preset's values
    first; ``params`` override them. provenance.json records the preset (name, the values it set, the
    keys overridden) and, always, ``presets_matched``: the presets the final values agree with.
    Raises StudioError subclasses on bad input, Cancelled on cancel.
    """
    cancel = cancel or NeverCancel()
    params, preset_record = apply_preset(plugin_cls, preset, params)
    values = plugin_cls.resolve_params(params)
    concrete = resolve_device(device)
    inputs = RunInputs(
        dataset_path=Path(dataset_path) if dataset_path is not None else None,
        device=concrete,
        results_dir=Path(results_dir) if results_dir is not None else None,
    )
    start = time.perf_counter()
    outputs = plugin_cls().run(inputs, values, progress, cancel)
    check_cancel(cancel)
    record = build_provenance(
        plugin_cls.name, values, dataset_path, concrete, time.perf_counter() - start, inputs.provenance
    )
    if preset_record is not None:
        preset_record["overridden"] = {k: values[k] for k in preset_record["overridden"]}
        record["preset"] = preset_record
    record["presets_matched"] = matching_presets(plugin_cls, values)
    record["outputs"] = {o.name: describe_output(o) for o in outputs}
    paths: list[Path] = []
    if out_dir is not None:
        out_dir = Path(out_dir)
        previous = read_manifest(out_dir)
        with atomic_output_dir(out_dir) as staging:
            write_outputs(outputs, staging)
            write_provenance(staging, record)
            check_cancel(cancel)
            names = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
            write_manifest(staging, names, plugin_cls.name)
        # a rerun into the same folder: drop what the previous run made and this one did not
        remove_stale(out_dir, previous, names)
        paths = [out_dir / n for n in sorted({*names, MANIFEST})]
    progress(1.0, "done")
    return RunRecord(outputs, values, record, paths)
