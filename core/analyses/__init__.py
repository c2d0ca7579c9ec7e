"""The analysis families, each a subpackage whose ``__init__`` is its one public module.

``consistency`` (semantic consistency: kernels -> statistic -> maps/areas), ``encoding`` (ridge kernels ->
cross-validation and selection -> runs and targets), ``rsa`` (RDMs -> permutation statistics -> pipeline),
``quartiles`` (consistency x language-response cells) and ``wholebrain`` (encoding compared with
consistency over areas and language parcels). Layers: ``quartiles | rsa | wholebrain`` above ``encoding``
above ``consistency`` (enforced by import-linter). A family's public names are imported on first use
(:func:`lazy_api`), so importing a family costs nothing until a function is called.
"""

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
