"""Per-vertex colour compositing for the cortex (Qt-free, VTK-free): sulcal shading underneath, a
thresholded overlay on top, area borders and ROI outlines over both.

Threshold convention (as MNE's fmin/fmax): a one-sided map shows vertices with ``value >= threshold``
coloured from ``vmin`` to ``vmax``; a two-sided map shows ``|value| >= threshold`` coloured
symmetrically from ``-vmax`` to ``vmax``. Below threshold the overlay is transparent (the sulcal
shading shows) or flat grey.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BASE_LIGHT = 0.78  # grey level of gyri (sulc < 0)
BASE_DARK = 0.52  # grey level of sulci (sulc > 0)
FLAT_GREY = 0.6
BORDER_RGB = (0.08, 0.08, 0.08)
ROI_RGBS = ((1.0, 1.0, 1.0), (0.0, 0.9, 0.2), (1.0, 0.85, 0.0), (0.0, 0.75, 1.0), (1.0, 0.2, 0.9))


@dataclass
class OverlayStyle:
    """How a map is drawn.

    cmap : matplotlib colormap name.
    vmin, vmax : colour limits (two-sided maps use -vmax..vmax); None = from the data (2nd/98th pct).
    threshold : values (|values| when two-sided) below it are not drawn; None = no threshold.
    two_sided : symmetric colouring and |value| thresholding.
    below : "transparent" (sulcal shading shows) or "grey" (flat grey).
    opacity : overlay opacity in [0, 1] over the shading.
    units : colour bar title.
    """

    cmap: str = "hot"
    vmin: float | None = None
    vmax: float | None = None
    threshold: float | None = None
    two_sided: bool = False
    below: str = "transparent"
    opacity: float = 1.0
    units: str = ""

    def limits(self, values: np.ndarray) -> tuple[float, float]:
        """The colour limits (lo, hi) used for ``values`` (any shape, NaN ignored). Unset limits come
        from the 2nd/98th percentiles of the values that pass the threshold."""
        finite = np.asarray(values, dtype=np.float64)
        finite = finite[np.isfinite(finite)]
        if self.threshold is not None:
            mag = np.abs(finite) if self.two_sided else finite
            shown = finite[mag >= self.threshold]
            finite = shown if shown.size else finite
        if self.two_sided:
            hi = self.vmax
            if hi is None:
                hi = float(np.percentile(np.abs(finite), 98)) if finite.size else 1.0
            hi = hi if hi > 0 else 1.0
            return -hi, hi
        lo, hi = self.vmin, self.vmax
        if lo is None:
            lo = float(np.percentile(finite, 2)) if finite.size else 0.0
            if self.threshold is not None:
                lo = self.threshold
        if hi is None:
            hi = float(np.percentile(finite, 98)) if finite.size else 1.0
        if hi <= lo:
            hi = lo + 1e-6
        return lo, hi


def colormap_table(name: str, n: int = 256) -> np.ndarray:
    """RGB lookup table float32 (n, 3) of a matplotlib colormap."""
    import matplotlib

    return np.asarray(matplotlib.colormaps[name](np.linspace(0, 1, n))[:, :3], dtype=np.float32)


def sulcal_shading(sulc: np.ndarray | None, n: int) -> np.ndarray:
    """Grey RGB float32 (n, 3) from sulcal depth (positive = deep = darker); flat when ``sulc`` is None."""
    if sulc is None:
        return np.full((n, 3), BASE_LIGHT, dtype=np.float32)
    s = np.asarray(sulc, dtype=np.float32)
    s = np.nan_to_num(s)
    scale = float(np.percentile(np.abs(s), 90)) or 1.0
    grey = BASE_LIGHT - (BASE_LIGHT - BASE_DARK) * 0.5 * (1 + np.tanh(2.0 * s / scale))
    return np.repeat(grey[:, None], 3, axis=1).astype(np.float32)


def visible_mask(values: np.ndarray, style: OverlayStyle) -> np.ndarray:
    """Bool (N,): where the overlay is drawn (finite and at or above threshold)."""
    v = np.asarray(values, dtype=np.float32)
    shown = np.isfinite(v)
    if style.threshold is not None:
        mag = np.abs(v) if style.two_sided else v
        with np.errstate(invalid="ignore"):
            shown &= mag >= style.threshold
    return shown


def overlay_rgb(values: np.ndarray, style: OverlayStyle, limits: tuple[float, float]) -> np.ndarray:
    """Colormap colours float32 (N, 3) for ``values`` clipped to ``limits`` (NaN -> first colour)."""
    table = colormap_table(style.cmap)
    lo, hi = limits
    v = np.nan_to_num(np.asarray(values, dtype=np.float32), nan=lo)
    idx = np.clip(((v - lo) / (hi - lo) * (len(table) - 1)).round(), 0, len(table) - 1).astype(np.int32)
    return table[idx]


def label_borders(labels: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Bool (N,): border vertices, i.e. on a face whose vertices do not share one label (0 = none
    counts), keeping only the side with the larger label so that a border is one vertex wide."""
    faces = np.asarray(faces)
    lab = np.asarray(labels)[faces]
    mixed = (lab[:, 0] != lab[:, 1]) | (lab[:, 1] != lab[:, 2])
    low = lab[mixed].min(axis=1, keepdims=True)
    keep = lab[mixed] > low
    out = np.zeros(len(labels), dtype=bool)
    out[faces[mixed][keep]] = True
    return out


def roi_outlines(roi_labels: np.ndarray, faces: np.ndarray) -> list[np.ndarray]:
    """One bool (N,) outline mask per ROI id > 0 (sorted): the ROI's own border vertices."""
    roi_labels = np.asarray(roi_labels)
    out = []
    for roi in np.unique(roi_labels[roi_labels > 0]):
        inside = roi_labels == roi
        out.append(label_borders(inside.astype(np.int8), faces) & inside)
    return out


def composite(
    base: np.ndarray,
    values: np.ndarray | None,
    style: OverlayStyle | None,
    limits: tuple[float, float] | None = None,
    borders: np.ndarray | None = None,
    outlines: list[np.ndarray] | None = None,
) -> np.ndarray:
    """Final vertex colours uint8 (N, 3).

    base : float (N, 3) shading; values : (N,) overlay values or None; borders : bool (N,) area borders;
    outlines : bool (N,) masks of ROI outlines, drawn in ``ROI_RGBS`` colours in order.
    """
    rgb = np.array(base, dtype=np.float32, copy=True)
    if values is not None and style is not None:
        values = np.asarray(values, dtype=np.float32)
        shown = visible_mask(values, style)
        if style.below == "grey":
            rgb[~shown] = FLAT_GREY
        if limits is None:
            limits = style.limits(values)
        if shown.any():
            colours = overlay_rgb(values[shown], style, limits)
            a = float(np.clip(style.opacity, 0.0, 1.0))
            rgb[shown] = a * colours + (1 - a) * rgb[shown]
    if borders is not None:
        rgb[borders] = BORDER_RGB
    for n, edge in enumerate(outlines or ()):
        rgb[edge] = ROI_RGBS[n % len(ROI_RGBS)]
    return np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8)
