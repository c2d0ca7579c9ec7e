"""Plugin discovery through the entry-point group ``concept_brain_studio.analyses``.

Listing reads entry-point metadata only; a plugin module is imported the first time it is loaded.
A plugin that fails to import or is malformed is recorded in :attr:`Registry.errors` and skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata

from app.plugins.base import AnalysisPlugin
from core.errors import PluginError

GROUP = "concept_brain_studio.analyses"


@dataclass
class Registry:
    """Discovered plugins by name. ``entry_points`` defaults to the installed ones."""

    entry_points: list | None = None
    errors: dict[str, str] = field(default_factory=dict)
    _loaded: dict[str, type[AnalysisPlugin]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.entry_points is None:
            self.entry_points = list(metadata.entry_points(group=GROUP))
        self._eps = {ep.name: ep for ep in self.entry_points}

    def names(self) -> list[str]:
        return sorted(self._eps)

    def load(self, name: str) -> type[AnalysisPlugin]:
        """Import and check one plugin class; raise PluginError (and remember it) on failure."""
        if name in self._loaded:
            return self._loaded[name]
        if name not in self._eps:
            raise PluginError(f"no analysis named {name!r}; available: {', '.join(self.names()) or 'none'}")
        if name in self.errors:
            raise PluginError(f"analysis {name!r} is disabled: {self.errors[name]}")
        try:
            cls = self._eps[name].load()
            if not (isinstance(cls, type) and issubclass(cls, AnalysisPlugin)):
                raise TypeError(f"{self._eps[name].value} is not an AnalysisPlugin subclass")
            cls.check_declaration()
        except Exception as exc:  # noqa: BLE001 - any import failure disables this plugin only
            self.errors[name] = f"{type(exc).__name__}: {exc}"
            raise PluginError(f"analysis {name!r} is disabled: {self.errors[name]}") from None
        self._loaded[name] = cls
        return cls

    def load_all(self) -> dict[str, type[AnalysisPlugin]]:
        """Every plugin that loads; failures land in :attr:`errors`."""
        out = {}
        for name in self.names():
            try:
                out[name] = self.load(name)
            except PluginError:
                continue
        return out
