"""Packages that re-export their submodules' public names lazily (PEP 562): importing the package costs
nothing until a name is used (``core.data``, the analysis families)."""

from __future__ import annotations

from importlib import import_module


def lazy_api(package: str, api: dict[str, tuple[str, ...]]):
    """``(__all__, __getattr__, __dir__)`` for a package re-exporting ``{submodule: names}`` lazily (PEP 562).

    Each lookup reads the attribute from its submodule at call time (nothing is cached), so a test that
    replaces a function in the submodule is seen through the package too.
    """
    where = {name: sub for sub, names in api.items() for name in names}

    def __getattr__(name: str):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(f"{package}.{where[name]}"), name)

    def __dir__() -> list[str]:
        return sorted(where)

    return sorted(where), __getattr__, __dir__
