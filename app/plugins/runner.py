"""Run a plugin end to end: resolve parameters and device, run, write outputs and provenance.json
atomically. Shared by the CLI and the GUI workers (Qt-free)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from app.plugins.base import AnalysisPlugin, RunInputs, RunResult
from app.plugins.presets import apply_preset, matching_presets
from core.backend import resolve_device
from core.errors import ParameterError, PluginError
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
    prior: Mapping[str, str | Path] | None = None,
) -> RunRecord:
    """Run ``plugin_cls`` and, when ``out_dir`` is given, write its outputs there atomically, with a
    ``manifest.json`` of the files written; files an earlier run listed there and this run does not
    produce are removed, nothing else.

    ``params`` may hold strings (from ``--set``) or typed values; they are parsed and validated first,
    so bad parameters fail before any work. ``preset`` (e.g. ``"paper"``) sets the preset's values
    first; ``params`` override them. provenance.json records the preset (name, the values it set, the
    keys overridden) and, always, ``presets_matched``: the presets the final values agree with.
    ``prior`` maps analysis names to earlier results folders (``{"consistency": DIR}``); the plugin's
    ``requires`` must be among them, its ``accepts`` are passed when present, others are ignored.
    ``results_dir`` is the same as ``prior={"consistency": results_dir}``. The outputs ``run()`` returns
    must be of the kinds the plugin declares (PluginError otherwise).
    Raises StudioError subclasses on bad input, Cancelled on cancel.
    """
    cancel = cancel or NeverCancel()
    params, preset_record = apply_preset(plugin_cls, preset, params)
    values = plugin_cls.resolve_params(params)
    given_prior = prior_results(plugin_cls, prior, results_dir)  # before the device and any work
    concrete = resolve_device(device)
    inputs = RunInputs(
        dataset_path=Path(dataset_path) if dataset_path is not None else None,
        device=concrete,
        prior=given_prior,
    )
    start = time.perf_counter()
    result = plugin_cls().run(inputs, values, progress, cancel)
    check_cancel(cancel)
    outputs = checked_outputs(plugin_cls, result)
    record = build_provenance(
        plugin_cls.name, values, dataset_path, concrete, time.perf_counter() - start, result.provenance
    )
    if inputs.prior:
        record["prior"] = {name: str(path) for name, path in inputs.prior.items()}
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


def prior_results(plugin_cls: type[AnalysisPlugin], prior: Mapping[str, str | Path] | None,
                  results_dir: str | Path | None = None) -> dict[str, Path]:
    """The earlier results a run gets: its ``requires`` (ParameterError when one is missing or is not a
    folder) and the ``accepts`` that were given, as Paths."""
    given = {str(k): Path(v) for k, v in (prior or {}).items() if v is not None}
    if results_dir is not None:
        given.setdefault("consistency", Path(results_dir))
    missing = [name for name in plugin_cls.requires if name not in given]
    if missing:
        raise ParameterError(f"{plugin_cls.name} needs earlier results of {', '.join(missing)} "
                             f"(--prior {missing[0]}=DIR)")
    wanted = {*plugin_cls.requires, *plugin_cls.accepts}
    out = {name: path for name, path in given.items() if name in wanted}
    for name, path in out.items():
        if not path.is_dir():
            raise ParameterError(f"{plugin_cls.name}: earlier {name} results {path} is not a folder")
    return out


def checked_outputs(plugin_cls: type[AnalysisPlugin], result) -> list:
    """The outputs of a :class:`RunResult`, each of a kind the plugin declares; PluginError otherwise."""
    if not isinstance(result, RunResult):
        raise PluginError(f"analysis {plugin_cls.name!r}: run() returned {type(result).__name__}, "
                          "not a RunResult(outputs, provenance)")
    undeclared = sorted({type(o).__name__ for o in result.outputs} - set(plugin_cls.outputs))
    if undeclared:
        raise PluginError(f"analysis {plugin_cls.name!r} returned output kind(s) {', '.join(undeclared)} "
                          f"it does not declare (declared: {', '.join(plugin_cls.outputs) or 'none'})")
    return list(result.outputs)
