"""The cortex viewer's colour bar: a VTK scalar bar for an overlay style, with its title wrapped to fit
its strip (no Qt import here)."""

from __future__ import annotations

import numpy as np
from vtkmodules.vtkCommonCore import vtkLookupTable
from vtkmodules.vtkRenderingAnnotation import vtkScalarBarActor

from app.views.colors import FLAT_GREY, OverlayStyle, colormap_table


def bar_title(units: str, width: int = 12, max_lines: int = 3) -> str:
    """The colour bar title wrapped at spaces into lines of at most ``width`` characters (it must fit
    the colour bar strip): 'language response' -> 'language\nresponse'."""
    import textwrap

    lines = textwrap.wrap(units, width, break_long_words=True) or ["value"]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: width - 1] + "…"
    return "\n".join(lines)


def make_scalar_bar(style: OverlayStyle, limits: tuple[float, float]):
    """A vtkScalarBarActor for ``style`` over ``limits``; the sub-threshold band is drawn grey."""
    lo, hi = limits
    table = colormap_table(style.cmap)
    levels = np.linspace(lo, hi, len(table))
    if style.threshold is not None:
        mag = np.abs(levels) if style.two_sided else levels
        table = table.copy()
        table[mag < style.threshold] = FLAT_GREY
    from vtkmodules.util.numpy_support import numpy_to_vtk

    rgba = np.concatenate([table, np.ones((len(table), 1), np.float32)], axis=1)
    lut = vtkLookupTable()
    lut.SetNumberOfTableValues(len(table))
    lut.SetRange(lo, hi)
    lut.SetTable(numpy_to_vtk(np.clip(rgba * 255 + 0.5, 0, 255).astype(np.uint8), deep=True))
    bar = vtkScalarBarActor()
    bar.SetLookupTable(lut)
    bar.SetTitle(bar_title(style.units or "value"))
    bar.SetNumberOfLabels(3)
    bar.SetOrientationToVertical()
    bar.SetPosition(0.06, 0.08)  # in the colour bar strip's own viewport
    bar.SetWidth(0.88)
    bar.SetHeight(0.8)
    bar.SetBarRatio(0.3)
    bar.SetLabelFormat("%-#6.3g")
    bar.UnconstrainedFontSizeOn()
    bar.SetTextPositionToPrecedeScalarBar()
    bar.SetVerticalTitleSeparation(4)
    for prop in (bar.GetTitleTextProperty(), bar.GetLabelTextProperty()):
        prop.SetColor(0.1, 0.1, 0.1)
        prop.SetFontSize(12)
        prop.ShadowOff()
        prop.BoldOff()
        prop.ItalicOff()
    return bar
