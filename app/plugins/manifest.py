"""Plugin manifests: what a plugin is, readable without importing its code (like napari's npe2).

A manifest is a TOML file shipped as package data and announced through the entry-point group
``concept_brain_studio.manifests`` with the value ``package:file.toml`` (the value is parsed here, never
``load()``-ed, so listing plugins imports no plugin module)::

    [plugin]
    name = "consistency"
    title = "Semantic consistency"
    description = "..."
    class = "app.plugins.consistency:ConsistencyPlugin"   # imported only to run
    inputs = ["dataset"]
    requires = []                 # prior results that must be given (analysis names)
    accepts = []                  # prior results used when given
    outputs = ["Table", "VoxelMap"]

    [[params]]
    name = "n_permutations"
    type = "int"                  # int, float, bool, str, choice, path
    default = 1000
    label = "Permutations"
    help = "One sentence saying what the value does."
    units = "permutations"
    min = 1                       # valid range (either end optional)
    max = 100000
    decimals = 2                  # floats: digits shown
    choices = ["a", "b"]          # or choices_from = "PARADIGMS" (a tuple of core.names) + extra_choices
    choice_help = ["...", "..."]  # one per choice
    special = ["select"]          # extra words a number also accepts

    [[params]]
    shared = "participants"       # a parameter of :data:`app.plugins.base.SHARED_PARAMS`; other keys override

The plugin class names its manifest (``manifest = "app.plugins.manifests:consistency.toml"``) and takes
its declaration from it (one source). A plugin without a manifest declares the same fields as class
attributes and is listed through ``concept_brain_studio.analyses`` (listing it imports it).
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from app.plugins.params import SHARED_PARAMS, Param, find_param
from core import names
from core.errors import PluginError

PLUGIN_KEYS = {"name", "title", "description", "class", "inputs", "requires", "accepts", "outputs"}
PARAM_KEYS = {"name", "type", "default", "label", "help", "units", "min", "max", "decimals", "choices",
              "choices_from", "extra_choices", "choice_help", "special", "shared"}


@dataclass(frozen=True)
class Manifest:
    """A plugin's declaration. ``source``: the ``package:file.toml`` it came from."""

    name: str
    title: str
    description: str
    class_path: str
    inputs: tuple[str, ...]
    requires: tuple[str, ...]
    accepts: tuple[str, ...]
    outputs: tuple[str, ...]
    params: tuple[Param, ...]
    source: str = ""

    def param(self, name: str) -> Param:
        return find_param(self.name, self.params, name)


def read_manifest(resource: str) -> Manifest:
    """Parse the manifest named ``package:file.toml``; PluginError naming the file and the reason."""
    return _read(resource)


@lru_cache(maxsize=64)
def _read(resource: str) -> Manifest:
    package, sep, filename = resource.partition(":")
    if not sep or not filename.endswith(".toml"):
        raise PluginError(f"manifest {resource!r}: expected 'package:file.toml'")
    try:
        text = resources.files(package).joinpath(filename).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, OSError) as exc:
        raise PluginError(f"manifest {resource}: cannot read it ({exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PluginError(f"manifest {resource}: not valid TOML ({exc})") from None
    return parse_manifest(data, resource)


def parse_manifest(data: dict, source: str = "<manifest>") -> Manifest:
    """A :class:`Manifest` from parsed TOML; PluginError naming ``source``, the key and the reason."""
    unknown = set(data) - {"plugin", "params"}
    if unknown:
        raise PluginError(f"manifest {source}: unknown section(s) {', '.join(sorted(unknown))}")
    head = data.get("plugin")
    if not isinstance(head, dict):
        raise PluginError(f"manifest {source}: missing the [plugin] table")
    _no_unknown(head, PLUGIN_KEYS, f"manifest {source} [plugin]")
    for key in ("name", "title", "class"):
        if not isinstance(head.get(key), str) or not head[key]:
            raise PluginError(f"manifest {source} [plugin]: '{key}' must be a non-empty string")
    outputs = _strings(head, "outputs", source)
    bad = [k for k in outputs if k not in names.OUTPUT_KINDS]
    if bad:
        raise PluginError(f"manifest {source} [plugin]: unknown output kind(s) {', '.join(bad)}; "
                          f"known: {', '.join(names.OUTPUT_KINDS)}")
    params = []
    for i, entry in enumerate(data.get("params", [])):
        where = f"manifest {source} params[{i}]" + (f" ({entry.get('name') or entry.get('shared')})"
                                                     if isinstance(entry, dict) else "")
        if not isinstance(entry, dict):
            raise PluginError(f"{where}: expected a table")
        _no_unknown(entry, PARAM_KEYS, where)
        try:
            params.append(_param(entry))
        except (KeyError, TypeError, ValueError) as exc:
            raise PluginError(f"{where}: {exc}") from None
    seen = [p.name for p in params]
    dupes = sorted({n for n in seen if seen.count(n) > 1})
    if dupes:
        raise PluginError(f"manifest {source}: parameter(s) declared twice: {', '.join(dupes)}")
    return Manifest(
        name=head["name"], title=head["title"], description=str(head.get("description", "")),
        class_path=head["class"], inputs=_strings(head, "inputs", source, ("dataset",)),
        requires=_strings(head, "requires", source), accepts=_strings(head, "accepts", source),
        outputs=outputs, params=tuple(params), source=source,
    )


def _param(entry: dict) -> Param:
    overrides = {k: v for k, v in entry.items() if k != "shared"}
    if "shared" in entry:
        if entry["shared"] not in SHARED_PARAMS:
            raise KeyError(f"no shared parameter {entry['shared']!r}; known: {', '.join(SHARED_PARAMS)}")
        base = SHARED_PARAMS[entry["shared"]]
        return dataclasses.replace(base, **_fields(overrides)) if overrides else base
    for key in ("name", "type"):
        if key not in entry:
            raise KeyError(f"'{key}' is required")
    if "default" not in entry:
        raise KeyError("'default' is required")
    return Param(**_fields(overrides))


def _fields(entry: dict) -> dict:
    """Manifest keys -> Param fields (min/max -> bounds, choices_from -> core.names tuple)."""
    out = {k: v for k, v in entry.items() if k in ("name", "type", "default", "label", "help", "units",
                                                   "decimals")}
    if "min" in entry or "max" in entry:
        out["bounds"] = (entry.get("min"), entry.get("max"))
    choices = list(entry.get("choices", []))
    if "choices_from" in entry:
        source = getattr(names, str(entry["choices_from"]), None)
        if not isinstance(source, tuple):
            raise ValueError(f"choices_from: core.names has no tuple {entry['choices_from']!r}")
        choices = list(source)
    choices += list(entry.get("extra_choices", []))
    if choices:
        out["choices"] = tuple(choices)
    if "choice_help" in entry:
        helps = tuple(str(h) for h in entry["choice_help"])
        if choices and len(helps) != len(choices):
            raise ValueError(f"choice_help has {len(helps)} entries for {len(choices)} choices")
        out["choice_help"] = helps
    if "special" in entry:
        out["special"] = tuple(entry["special"])
    return out


def _strings(table: dict, key: str, source: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    value = table.get(key, list(default))
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PluginError(f"manifest {source} [plugin]: '{key}' must be a list of strings")
    return tuple(value)


def _no_unknown(table: dict, known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise PluginError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
