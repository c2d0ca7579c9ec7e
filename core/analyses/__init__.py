"""The analysis families, each a subpackage whose ``__init__`` is its one public module.

``consistency`` (semantic consistency: kernels -> statistic -> maps/areas), ``encoding`` (ridge kernels ->
cross-validation and selection -> runs and targets), ``rsa`` (RDMs -> permutation statistics -> pipeline),
``quartiles`` (consistency x language-response cells) and ``wholebrain`` (encoding compared with
consistency over areas and language parcels). Layers: ``quartiles | rsa | wholebrain`` above ``encoding``
above ``consistency`` (enforced by import-linter). A family's public names are imported on first use
(:func:`lazy_api`), so importing a family costs nothing until a function is called.
"""

from __future__ import annotations

from core.lazy import lazy_api  # noqa: F401 - the families import it from here
