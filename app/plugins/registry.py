"""Plugin discovery through two entry-point groups.

``concept_brain_studio.manifests`` (value ``package:file.toml``): plugins declared by a manifest
(:mod:`app.plugins.manifest`); listing and describing them reads the manifest only, and the plugin module
is imported the first time the plugin is loaded to run. ``concept_brain_studio.analyses`` (value
``module:Class``): plugins declared as class attributes; describing one imports it. A plugin that fails to
import or is malformed is recorded in :attr:`Registry.errors` and skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import import_module, metadata

from app.plugins.base import AnalysisPlugin
from app.plugins.manifest import Manifest, read_manifest
from core.errors import PluginError

GROUP = "concept_brain_studio.analyses"
MANIFEST_GROUP = "concept_brain_studio.manifests"


@dataclass
class Registry:
    """Discovered plugins by name. ``entry_points`` (class plugins) and ``manifest_points`` (manifest
    plugins) default to the installed ones when neither is given (tests pass their own); a name in both is
    the manifest's."""

    entry_points: list | None = None
    manifest_points: list | None = None
    errors: dict[str, str] = field(default_factory=dict)
    _loaded: dict[str, type[AnalysisPlugin]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        installed = self.entry_points is None and self.manifest_points is None
        if self.entry_points is None:
            self.entry_points = list(metadata.entry_points(group=GROUP)) if installed else []
        if self.manifest_points is None:
            self.manifest_points = list(metadata.entry_points(group=MANIFEST_GROUP)) if installed else []
        self._eps = {ep.name: ep for ep in self.entry_points}
        self._manifests = {ep.name: ep for ep in self.manifest_points}

    def names(self) -> list[str]:
        return sorted({*self._eps, *self._manifests})

    def describe(self, name: str) -> Manifest | type[AnalysisPlugin]:
        """The declaration of ``name`` without running it: its manifest (nothing imported) or, for a
        class plugin, its loaded class (same attribute names). PluginError when unknown or broken."""
        if name in self._manifests:
            return self.manifest(name)
        return self.load(name)

    def manifest(self, name: str) -> Manifest:
        """The parsed manifest of a manifest plugin (PluginError, remembered, when it is malformed)."""
        ep = self._manifests[name]
        try:
            declared = read_manifest(ep.value)
            if declared.name != name:
                raise PluginError(f"manifest {ep.value} declares name {declared.name!r}, "
                                  f"registered as {name!r}")
        except PluginError as exc:
            self.errors[name] = str(exc)
            raise
        return declared

    def describe_all(self) -> dict[str, Manifest | type[AnalysisPlugin]]:
        """Every plugin that can be described; failures land in :attr:`errors`."""
        return self._every(self.describe)

    def load(self, name: str) -> type[AnalysisPlugin]:
        """Import and check one plugin class; raise PluginError (and remember it) on failure."""
        if name in self._loaded:
            return self._loaded[name]
        if name not in self._eps and name not in self._manifests:
            raise PluginError(f"no analysis named {name!r}; available: {', '.join(self.names()) or 'none'}")
        if name in self.errors:
            raise PluginError(f"analysis {name!r} is disabled: {self.errors[name]}")
        try:
            if name in self._manifests:
                declared = self.manifest(name)
                module, _, attr = declared.class_path.partition(":")
                cls = getattr(import_module(module), attr)
            else:
                cls = self._eps[name].load()
            if not (isinstance(cls, type) and issubclass(cls, AnalysisPlugin)):
                raise TypeError(f"{getattr(cls, '__name__', cls)!s} is not an AnalysisPlugin subclass")
            if name in self._manifests and cls.name != name:
                raise TypeError(f"{cls.__name__} declares name {cls.name!r}, its manifest {name!r}")
            cls.check_declaration()
        except Exception as exc:  # noqa: BLE001 - any import failure disables this plugin only
            self.errors.setdefault(name, f"{type(exc).__name__}: {exc}")
            raise PluginError(f"analysis {name!r} is disabled: {self.errors[name]}") from None
        self._loaded[name] = cls
        return cls

    def load_all(self) -> dict[str, type[AnalysisPlugin]]:
        """Every plugin that loads; failures land in :attr:`errors`."""
        return self._every(self.load)

    def _every(self, get) -> dict:
        out = {}
        for name in self.names():
            try:
                out[name] = get(name)
            except PluginError:
                continue
        return out

