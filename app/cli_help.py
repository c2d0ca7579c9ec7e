"""``cbstudio run NAME --help``: an analysis' parameters in words, generated from its declared Params."""

from __future__ import annotations

import textwrap


def plugin_help(plugin) -> str:
    """Help text of a plugin (a manifest or a plugin class): title, description, prior results, then each
    parameter's key, label, type, default, units, range or choices (with their help), and the presets."""
    from app.plugins.presets import available_presets

    lines = [f"cbstudio run {plugin.name} --data PATH --out DIR [--set KEY=VALUE ...] [--preset NAME]", "",
             f"{plugin.title}", *textwrap.wrap(plugin.description, 100), ""]
    for what, names in (("requires", plugin.requires), ("accepts", plugin.accepts)):
        if names:
            lines.append(f"{what} earlier results of: {', '.join(names)} (--prior NAME=DIR)")
    lines += ["", "parameters (--set KEY=VALUE):"]
    for p in plugin.params:
        lines.append(f"  {p.name}  ({p.title}; {p.type}, default {format_value(p, p.default)})")
        lines += ["      " + s for s in textwrap.wrap(p.help, 94)]
        if p.units:
            lines.append(f"      units: {p.units}")
        if p.bounds and p.type in ("int", "float"):
            low, high = p.bounds
            lines.append(f"      range: {'-inf' if low is None else low} .. {'inf' if high is None else high}"
                         + (f"; also {', '.join(p.special)}" if p.special else ""))
        for i, choice in enumerate(p.choices or ()):
            about = f": {p.choice_help[i]}" if i < len(p.choice_help) else ""
            lines.append(f"      {choice}{about}")
    presets = available_presets(plugin)
    if presets:
        lines += ["", "presets (--preset NAME):"]
        for name, values in sorted(presets.items()):
            lines.append(f"  {name}: " + ", ".join(f"{k}={v}" for k, v in values.items()))
    return "\n".join(lines)


def format_value(param, value) -> str:
    """A parameter value as a form or help text shows it (floats to the declared ``decimals``)."""
    if param.type == "float" and isinstance(value, float) and param.decimals is not None:
        return f"{value:.{param.decimals}f}"
    if param.type == "float" and isinstance(value, float):
        return f"{value:g}"
    if value == "":
        return "''"
    return str(value)
