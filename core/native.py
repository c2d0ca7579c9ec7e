"""Heavy packages' native libraries loaded with the GIL released, before the packages are imported.

A Python import loads an extension's shared libraries inside ``dlopen`` with the GIL held, so a worker
thread importing torch stops every other Python thread while ``libtorch_cpu``'s static initialisers run
(0.2-0.3 s on the project's 2-core machine: the GUI's largest stall while it warms up); numba's LLVM
(``libllvmlite``) is the next largest. ``ctypes`` releases the GIL around a foreign call, so calling the
C library's own ``dlopen`` through it first loads the same files while the UI thread keeps running;
the package's import later finds them loaded (``dlopen`` of a loaded file only counts a reference).
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
from pathlib import Path

# package -> (folder inside the package, file name stem) of its largest shared library
LIBRARIES = {"torch": ("lib", "libtorch_cpu"), "llvmlite": ("binding", "libllvmlite")}
SUFFIXES = (".so", ".dylib")


def library_paths(packages: tuple[str, ...] = tuple(LIBRARIES)) -> list[Path]:
    """The shared-library files of ``packages`` (keys of :data:`LIBRARIES`) that exist, found without
    importing the packages; packages not installed are skipped."""
    paths = []
    for package in packages:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        folder, stem = LIBRARIES[package]
        where = Path(next(iter(spec.submodule_search_locations))) / folder
        paths += [p for suffix in SUFFIXES if (p := where / f"{stem}{suffix}").is_file()]
    return paths


def preload_native(packages: tuple[str, ...] = tuple(LIBRARIES)) -> list[str]:
    """Load the shared libraries of ``packages`` with ``RTLD_NOW | RTLD_LOCAL`` (symbols stay private, as
    the package's own import would leave them) through libc's ``dlopen`` called without the GIL.
    Returns the paths loaded. Does nothing where the C library has no ``dlopen`` (Windows); a library
    that does not load is skipped, and the package's import reports the reason as it always would."""
    if os.name != "posix":
        return []
    try:
        dlopen = ctypes.CDLL(None).dlopen  # the process's global symbols: the C library's dlopen
    except (OSError, AttributeError):
        return []
    dlopen.restype = ctypes.c_void_p
    dlopen.argtypes = (ctypes.c_char_p, ctypes.c_int)
    mode = os.RTLD_NOW | os.RTLD_LOCAL
    return [str(path) for path in library_paths(packages) if dlopen(os.fsencode(path), mode)]
