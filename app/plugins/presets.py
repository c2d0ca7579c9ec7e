"""Named parameter presets: one switch that sets every method parameter of an analysis at once.

``PRESETS`` holds the built-in presets per analysis name; a third-party plugin declares its own through
the class attribute :attr:`app.plugins.base.AnalysisPlugin.presets` (same shape: preset name ->
{parameter: value}), which takes precedence over a built-in entry of the same name. ``paper`` sets the
choices of the paper's own code (github.com/ryskina/concepts-brain-llms); the README's "Paper mode"
section gives the file and line each value comes from. A preset leaves alone what selects data, models
or compute (``model``, ``paradigm``, ``participants``, ``backend``, ``layer_maps``). Qt-free.
"""

from __future__ import annotations

from typing import Any

from core.errors import ParameterError

_ENCODING_COMMON = {
    "layer": "select",
    "pooling": "select",
    "selection": "paper",
    "cv_folds": 5,
    "cv_groups": "stimulus",
    "seed": 0,
}

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "paper": {
        "consistency": {
            "n_permutations": 1000,
            "seed": 0,
            "alpha": 0.05,
            "correction": "none",
            "split_halves": True,
            "atlas": "glasser",
            "atlas_table": "",
            "rois": "paper",
            "roi_table": "",
        },
        "encoding": {
            "target": "areas",
            **_ENCODING_COMMON,
            "noise_ceiling": True,
            "atlas": "glasser",
            "atlas_table": "",
            "rois": "paper",
            "roi_table": "",
        },
        "quartiles": {
            "rois": "paper",
            **_ENCODING_COMMON,
        },
        "rsa": {
            "layer": "select",
            "pooling": "select",
            "condition": "both",
            "rois": "paper",
            "roi_table": "",
            "sig_voxels_only": False,
            "distance": "correlation",
            "comparison": "spearman",
            "baseline": "single_shuffle",
            "seed": 0,
        },
    },
}


def available_presets(plugin_cls) -> dict[str, dict[str, Any]]:
    """Preset name -> {parameter: value} for one plugin class: the built-in ``PRESETS`` entries for its
    ``name``, updated with the class's own ``presets`` attribute. Values are as declared (unparsed)."""
    out = {name: dict(table[plugin_cls.name]) for name, table in PRESETS.items() if plugin_cls.name in table}
    for name, values in (getattr(plugin_cls, "presets", None) or {}).items():
        out[name] = dict(values)
    return out


def preset_values(plugin_cls, name: str) -> dict[str, Any]:
    """The parsed, validated values preset ``name`` sets on ``plugin_cls``.

    Raises ParameterError when the preset is unknown for this plugin (naming the available ones), when
    it names a parameter the plugin does not declare, or when a value does not parse.
    """
    presets = available_presets(plugin_cls)
    if name not in presets:
        names = ", ".join(sorted(presets)) or "none"
        raise ParameterError(f"{plugin_cls.name}: unknown preset {name!r}; available: {names}")
    values = {}
    for key, raw in presets[name].items():
        try:
            values[key] = plugin_cls.param(key).parse(raw)
        except ParameterError as exc:
            raise ParameterError(f"preset {name!r}: {exc}") from None
    return values


def apply_preset(plugin_cls, name: str | None, overrides: dict[str, Any] | None = None):
    """Parameter values for a run: preset ``name`` (if any) under ``overrides`` (``--set``), which win.

    Returns ``(params, record)``: ``params`` to pass to ``resolve_params``, and ``record`` for
    provenance.json — None without a preset, else ``{"name", "set", "overridden"}`` where ``set`` holds
    the preset values that took effect and ``overridden`` the preset keys an override replaced (with the
    value given).
    """
    overrides = dict(overrides or {})
    if not name:
        return overrides, None
    values = preset_values(plugin_cls, name)
    params = {**values, **overrides}
    record = {
        "name": name,
        "set": {k: v for k, v in values.items() if k not in overrides},
        "overridden": {k: overrides[k] for k in values if k in overrides},
    }
    return params, record


def matching_presets(plugin_cls, values: dict[str, Any]) -> list[str]:
    """Names of this plugin's presets whose every value equals the resolved ``values`` (e.g. a GUI run
    after "Paper settings"). Presets that do not validate are skipped."""
    out = []
    for name in sorted(available_presets(plugin_cls)):
        try:
            preset = preset_values(plugin_cls, name)
        except ParameterError:
            continue
        if all(k in values and values[k] == v for k, v in preset.items()):
            out.append(name)
    return out


def check_presets(plugin_cls) -> None:
    """Raise ValueError when a plugin's own ``presets`` attribute is malformed (not a dict of dicts, an
    undeclared parameter, a value that does not parse); used by the plugin contract check."""
    own = getattr(plugin_cls, "presets", None)
    if own is None:
        return
    if not isinstance(own, dict) or not all(isinstance(v, dict) for v in own.values()):
        raise ValueError(f"plugin {plugin_cls.name}: 'presets' must map names to {{parameter: value}} dicts")
    for name in own:
        if not isinstance(name, str) or not name:
            raise ValueError(f"plugin {plugin_cls.name}: preset names must be non-empty strings")
        try:
            preset_values(plugin_cls, name)
        except ParameterError as exc:
            raise ValueError(f"plugin {plugin_cls.name}: {exc}") from None
