"""Concept Brain Studio compute library (Qt-free).

Subpackages: ``data`` (dataset model, readers, synthetic demo), ``atlas``, ``features``,
``analyses``, ``stats``, ``export``; ``backend`` picks the array device.
"""

__version__ = "0.1.0"
