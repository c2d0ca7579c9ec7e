"""Headless cortex figures (Qt-free): the viewer's :class:`~app.views.scene.BrainScene` rendered
off-screen (VTK's EGL path, no X server) for each requested view, tiled, with a matplotlib colour bar.
Used by ``cbstudio figure`` and the GUI's one-click figure bundle."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.views.colors import OverlayStyle
from core.errors import ParameterError


def render_views(
    mesh,
    values: dict[str, np.ndarray] | None,
    style: OverlayStyle | None,
    views: tuple[str, ...] = ("lateral", "medial"),
    hemis: tuple[str, ...] = ("left", "right"),
    tile_size: tuple[int, int] = (500, 400),
    borders: bool = False,
    rois: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Off-screen render: uint8 RGB image (len(views) * H, len(hemis) * W, 3); row r = views[r]."""
    import pyvista as pv

    from app.views.scene import BrainScene

    width, height = tile_size
    plotter = pv.Plotter(
        off_screen=True,
        shape=(1, len(hemis)),
        window_size=(width * len(hemis), height),
        border=False,
    )
    plotter.ren_win.SetMultiSamples(0)  # software GL: no MSAA (3x faster, DESIGN.md)
    try:
        scene = BrainScene(plotter, hemis=tuple(hemis), colorbar=False)  # the figure draws its own
        scene.set_mesh(mesh)
        scene.set_borders(borders)
        if rois is not None:
            scene.set_rois(rois)
        if values is not None and style is not None:
            scene.set_overlay(values, style)
        rows = []
        for view in views:
            scene.set_view(view)
            plotter.render()
            rows.append(np.asarray(plotter.screenshot(return_img=True))[..., :3])
        scene.close()
    finally:
        plotter.close()
    return np.concatenate(rows, axis=0)


def compose_figure(
    image: np.ndarray,
    style: OverlayStyle | None,
    limits: tuple[float, float] | None,
    title: str = "",
    dpi: int = 100,
):
    """A matplotlib Figure holding ``image`` and, when a style is given, a horizontal colour bar."""
    import matplotlib
    from matplotlib.figure import Figure

    h, w = image.shape[:2]
    extra = 0.9 if style is not None else 0.0
    fig = Figure(figsize=(w / dpi, h / dpi + extra + (0.3 if title else 0)), dpi=dpi)
    fig.patch.set_facecolor("white")
    top = 1 - (0.3 / fig.get_figheight() if title else 0)
    bottom = extra / fig.get_figheight()
    ax = fig.add_axes([0, bottom, 1, top - bottom])
    ax.imshow(image)
    ax.set_axis_off()
    if title:
        fig.suptitle(title, fontsize=11, y=0.995)
    if style is not None and limits is not None:
        from app.views.colors import FLAT_GREY, colormap_table

        table = colormap_table(style.cmap)
        levels = np.linspace(limits[0], limits[1], len(table))
        if style.threshold is not None:
            mag = np.abs(levels) if style.two_sided else levels
            table = table.copy()
            table[mag < style.threshold] = FLAT_GREY
        cmap = matplotlib.colors.ListedColormap(table)
        norm = matplotlib.colors.Normalize(*limits)
        cax = fig.add_axes([0.25, 0.45 * bottom, 0.5, 0.22 * bottom])
        bar = fig.colorbar(
            matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), cax=cax, orientation="horizontal"
        )
        bar.set_label(style.units or "value", fontsize=9)
        bar.ax.tick_params(labelsize=8)
    return fig


def save_figure(fig, path: str | Path, dpi: int = 100) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, facecolor="white")
    return path


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        raise ParameterError(f"--size expects WxH, e.g. 500x400; got {text!r}") from None
    if not (16 <= w <= 4096 and 16 <= h <= 4096):
        raise ParameterError(f"--size {text}: each side must be 16..4096 pixels")
    return w, h
