"""Concept Brain Studio compute library (Qt-free).

Subpackages: ``data`` (dataset model, readers), ``atlas``, ``features``,
``analyses``, ``stats``, ``export``, ``figures``, ``demo`` (the synthetic demo), ``study`` (recipes and
their execution on Dask); ``backend`` picks the array device.
"""

__version__ = "0.1.0"
