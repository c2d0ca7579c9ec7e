"""The cortex scene, shared by the Qt viewer and headless figures (no Qt import here).

A :class:`BrainScene` draws a two-hemisphere mesh into any PyVista plotter with one renderer per
hemisphere side by side (``shape=(1, n_hemis)``), one actor per hemisphere whose vertex colours are
composited in numpy (:mod:`app.views.colors`): sulcal shading, the thresholded overlay, Glasser area
borders and ROI outlines. Updating an overlay rewrites one uint8 colour array per hemisphere, never
rebuilds actors. Picking is a cell-locator ray cast (exact, ~0.05 ms), never a point picker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyvista as pv
from vtkmodules.vtkCommonCore import mutable
from vtkmodules.vtkCommonDataModel import vtkCellLocator
from vtkmodules.vtkRenderingCore import vtkRenderer

from app.views.colors import OverlayStyle, composite, label_borders, roi_outlines, sulcal_shading
from app.views.scalar_bar import make_scalar_bar

VIEWS = ("lateral", "medial", "dorsal", "ventral", "anterior", "posterior")
HEMIS = ("left", "right")
BACKGROUND = "white"
FIT_MARGIN = 1.04
COLORBAR_WIDTH = 0.11  # fraction of the window width kept for the colour bar (its own viewport)


def view_direction(view: str, hemi: str) -> tuple[np.ndarray, np.ndarray]:
    """(unit vector from the focal point to the camera, view-up) for a preset view of ``hemi``."""
    side = -1.0 if hemi == "left" else 1.0
    table = {
        "lateral": ((side, 0, 0), (0, 0, 1)),
        "medial": ((-side, 0, 0), (0, 0, 1)),
        "dorsal": ((0, 0, 1), (0, 1, 0)),
        "ventral": ((0, 0, -1), (0, 1, 0)),
        "anterior": ((0, 1, 0), (0, 0, 1)),
        "posterior": ((0, -1, 0), (0, 0, 1)),
    }
    if view not in table:
        raise ValueError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")
    d, up = table[view]
    return np.asarray(d, float), np.asarray(up, float)


@dataclass
class HemiState:
    """What the scene keeps per hemisphere."""

    polydata: pv.PolyData
    actor: object
    renderer: object
    base: np.ndarray  # float32 (N, 3) sulcal shading
    glasser: np.ndarray | None
    faces: np.ndarray
    borders: np.ndarray | None = None
    outlines: list[np.ndarray] = field(default_factory=list)
    values: np.ndarray | None = None
    locator: object | None = None


class BrainScene:
    """Build and update the cortex in ``plotter`` (a ``pyvista.Plotter`` or ``pyvistaqt.QtInteractor``
    created with ``shape=(1, len(hemis))``).

    Parameters
    ----------
    plotter : the target plotter; renderer ``i`` shows ``hemis[i]``.
    hemis : which hemispheres, in left-to-right screen order.
    colorbar : draw the colour bar, in a strip of its own at the right (never over a hemisphere).
    """

    def __init__(self, plotter, hemis: tuple[str, ...] = HEMIS, colorbar: bool = True) -> None:
        self.plotter = plotter
        self.hemis = tuple(hemis)
        self.states: dict[str, HemiState] = {}
        self.mesh = None
        self.style: OverlayStyle | None = None
        self.limits: tuple[float, float] | None = None
        self.show_borders = False
        self.view = "lateral"
        self._scalar_bar = None
        self._linking = False
        self._camera_observers: list[tuple[object, int]] = []
        self.colorbar = colorbar
        self._bar_renderer = None
        plotter.set_background(BACKGROUND)
        for renderer in plotter.renderers:  # one headlight: the default light kit's five lights took a
            renderer.remove_all_lights()  # third of a software-GL frame (918 x 634: 51 -> 34 ms)
            renderer.add_light(pv.Light(light_type="headlight"))
        if colorbar:
            self._bar_renderer = vtkRenderer()
            self._bar_renderer.SetBackground(*pv.Color(BACKGROUND).float_rgb)
            self._bar_renderer.SetInteractive(False)
            self._bar_renderer.SetViewport(1.0 - COLORBAR_WIDTH, 0.0, 1.0, 1.0)
            plotter.render_window.AddRenderer(self._bar_renderer)
        self._layout_viewports()

    def _layout_viewports(self) -> None:
        """Hemispheres side by side in equal viewports, left of the colour bar strip."""
        right = 1.0 - (COLORBAR_WIDTH if self.colorbar else 0.0)
        n = len(self.hemis)
        for i in range(n):
            self.plotter.renderers[i].SetViewport(right * i / n, 0.0, right * (i + 1) / n, 1.0)

    # ------------------------------------------------------------------ mesh
    def set_mesh(self, mesh) -> None:
        """Show ``mesh`` (``core.atlas.meshes.Mesh``); the overlay is cleared."""
        self._unlink_cameras()
        for n, hemi in enumerate(self.hemis):
            old = self.states.pop(hemi, None)
            renderer = self.plotter.renderers[n]
            if old is not None:
                renderer.remove_actor(old.actor, render=False)
            h = mesh.hemis[hemi]
            faces = np.asarray(h.faces, dtype=np.int64)
            cells = np.hstack([np.full((len(faces), 1), 3, np.int64), faces]).ravel()
            poly = pv.PolyData(np.asarray(h.vertices, dtype=np.float32), cells)
            # normals once, here: smooth_shading=True would recompute them on every colour update
            poly = poly.compute_normals(
                cell_normals=False,
                point_normals=True,
                split_vertices=False,
                consistent_normals=False,
                auto_orient_normals=False,
            )
            base = sulcal_shading(h.sulc, h.n_vertices)
            poly.point_data["rgb"] = composite(base, None, None)
            self.plotter.subplot(0, n)
            actor = self.plotter.add_mesh(
                poly,
                scalars="rgb",
                rgb=True,
                smooth_shading=False,
                show_scalar_bar=False,
                reset_camera=False,
                render=False,
                name=f"cortex-{hemi}",
            )
            actor.prop.interpolation = "gouraud"
            actor.prop.ambient = 0.25
            actor.prop.diffuse = 0.8
            actor.prop.specular = 0.05
            glasser = None if h.glasser is None else np.asarray(h.glasser)
            self.states[hemi] = HemiState(poly, actor, renderer, base, glasser, faces)
        self.mesh = mesh
        self.values_cleared()
        self.set_borders(self.show_borders, redraw=False)
        self.set_view(self.view)
        self._link_cameras()

    def values_cleared(self) -> None:
        for st in self.states.values():
            st.values = None
        self.style = None
        self.limits = None
        self._update_scalar_bar()

    # ------------------------------------------------------------------ colours
    def set_overlay(self, values: dict[str, np.ndarray] | None, style: OverlayStyle | None) -> None:
        """Draw per-vertex ``values`` {hemi: (N,)} with ``style``; None clears the overlay."""
        self.style = style if values is not None else None
        all_vals = []
        for hemi, st in self.states.items():
            st.values = None if values is None else np.asarray(values[hemi], dtype=np.float32)
            if st.values is not None:
                all_vals.append(st.values)
        self.limits = None
        if self.style is not None and all_vals:
            self.limits = self.style.limits(np.concatenate(all_vals))
        self._recolour()
        self._update_scalar_bar()

    def set_style(self, style: OverlayStyle) -> None:
        """Restyle the current overlay (threshold, colormap, limits) without re-projecting."""
        if all(st.values is None for st in self.states.values()):
            return
        self.set_overlay({h: st.values for h, st in self.states.items()}, style)

    def set_borders(self, on: bool, redraw: bool = True) -> None:
        """Glasser area borders on/off (only on meshes with Glasser labels)."""
        self.show_borders = bool(on)
        for st in self.states.values():
            if on and st.glasser is not None and st.borders is None:
                st.borders = label_borders(st.glasser, st.faces)
        if redraw:
            self._recolour()

    def set_rois(self, roi_labels: dict[str, np.ndarray] | None) -> None:
        """ROI outlines from int ROI ids per vertex {hemi: (N,)} (0 = none); None removes them."""
        for hemi, st in self.states.items():
            st.outlines = [] if roi_labels is None else roi_outlines(roi_labels[hemi], st.faces)
        self._recolour()

    def vertex_colors(self, hemi: str) -> np.ndarray:
        """The uint8 (N, 3) colours now on ``hemi``."""
        return np.asarray(self.states[hemi].polydata.point_data["rgb"])

    def _recolour(self) -> None:
        for st in self.states.values():
            rgb = composite(
                st.base,
                st.values,
                self.style,
                self.limits,
                borders=st.borders if self.show_borders else None,
                outlines=st.outlines,
            )
            st.polydata.point_data["rgb"] = rgb

    def _update_scalar_bar(self) -> None:
        renderer = self._bar_renderer
        if renderer is None:
            return
        if self._scalar_bar is not None:
            renderer.RemoveViewProp(self._scalar_bar)
            self._scalar_bar = None
        if self.style is None or self.limits is None:
            return
        self._scalar_bar = make_scalar_bar(self.style, self.limits)
        renderer.AddViewProp(self._scalar_bar)

    # ------------------------------------------------------------------ camera
    def set_view(self, view: str) -> None:
        """Apply a preset view to every hemisphere (mirrored for the right), fitted to each viewport."""
        self.view = view
        self._linking = True
        try:
            width, height = self.plotter.render_window.GetSize()
            for hemi, st in self.states.items():
                direction, up = view_direction(view, hemi)
                x0, y0, x1, y1 = st.renderer.GetViewport()
                aspect = max((x1 - x0) * max(width, 1), 1) / max((y1 - y0) * max(height, 1), 1)
                fit_camera(
                    st.renderer.GetActiveCamera(), np.asarray(st.polydata.points), direction, up, aspect
                )
                st.renderer.ResetCameraClippingRange()
                st.renderer.camera_set = True  # keep PyVista from resetting to its isometric default
        finally:
            self._linking = False

    def _link_cameras(self) -> None:
        """Rotating one hemisphere rotates the other, mirrored across the midline."""
        if len(self.states) != 2:
            return
        left, right = self.states["left"], self.states["right"]
        for src, dst in ((left, right), (right, left)):
            cam = src.renderer.GetActiveCamera()
            tag = cam.AddObserver("ModifiedEvent", lambda *_a, s=src, d=dst: self._mirror(s, d))
            self._camera_observers.append((cam, tag))

    def _unlink_cameras(self) -> None:
        for cam, tag in self._camera_observers:
            cam.RemoveObserver(tag)
        self._camera_observers.clear()

    def _mirror(self, src: HemiState, dst: HemiState) -> None:
        if self._linking:
            return
        self._linking = True
        try:
            flip = np.array([-1.0, 1.0, 1.0])
            c_src = np.asarray(src.polydata.center)
            c_dst = np.asarray(dst.polydata.center)
            s = src.renderer.GetActiveCamera()
            d = dst.renderer.GetActiveCamera()
            d.SetFocalPoint(*(c_dst + flip * (np.asarray(s.GetFocalPoint()) - c_src)))
            d.SetPosition(*(c_dst + flip * (np.asarray(s.GetPosition()) - c_src)))
            d.SetViewUp(*(flip * np.asarray(s.GetViewUp())))
            d.SetViewAngle(s.GetViewAngle())
            dst.renderer.ResetCameraClippingRange()
        finally:
            self._linking = False

    # ------------------------------------------------------------------ picking
    def renderer_at(self, x: float, y: float) -> str | None:
        """The hemisphere whose viewport holds display point (x, y) (VTK coordinates, origin bottom-left)."""
        width, height = self.plotter.render_window.GetSize()
        for hemi, st in self.states.items():
            x0, y0, x1, y1 = st.renderer.GetViewport()
            if x0 * width <= x < x1 * width and y0 * height <= y < y1 * height:
                return hemi
        return None

    def pick(self, x: float, y: float) -> tuple[str, int] | None:
        """(hemi, vertex) under display point (x, y), by a ray cast on the triangles; None on background."""
        hemi = self.renderer_at(x, y)
        if hemi is None:
            return None
        st = self.states[hemi]
        if st.locator is None:
            loc = vtkCellLocator()
            loc.SetDataSet(st.polydata)
            loc.BuildLocator()
            st.locator = loc
        ren = st.renderer
        ends = []
        for z in (0.0, 1.0):
            ren.SetDisplayPoint(x, y, z)
            ren.DisplayToWorld()
            w = ren.GetWorldPoint()
            ends.append(np.asarray(w[:3]) / (w[3] or 1.0))
        t, hit, pcoords, sub_id, cell = (
            mutable(0.0),
            [0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0],
            mutable(0),
            mutable(0),
        )
        found = st.locator.IntersectWithLine(ends[0], ends[1], 1e-6, t, hit, pcoords, sub_id, cell)
        if not found:
            return None
        tri = st.faces[int(cell)]
        verts = np.asarray(st.polydata.points)[tri]
        nearest = int(tri[np.argmin(np.linalg.norm(verts - np.asarray(hit), axis=1))])
        return hemi, nearest

    def world_to_display(self, hemi: str, point: np.ndarray) -> tuple[float, float, float]:
        """Display coordinates (x, y, depth) of a world point in ``hemi``'s renderer."""
        ren = self.states[hemi].renderer
        ren.SetWorldPoint(*np.asarray(point, float), 1.0)
        ren.WorldToDisplay()
        return ren.GetDisplayPoint()

    def close(self) -> None:
        self._unlink_cameras()
        if self._bar_renderer is not None:
            self.plotter.render_window.RemoveRenderer(self._bar_renderer)
            self._bar_renderer = None
        for st in self.states.values():
            st.locator = None
        self.states.clear()


def fit_camera(
    cam, points: np.ndarray, direction: np.ndarray, up: np.ndarray, aspect: float, margin: float = FIT_MARGIN
) -> None:
    """Look along -``direction`` with ``up`` and place the camera so that ``points`` fill the view
    (perspective, the camera's view angle; ``aspect`` = viewport width / height)."""
    right = np.cross(up, direction)
    pr, pu, pd = points @ right, points @ up, points @ direction
    center = (
        right * (pr.max() + pr.min()) + up * (pu.max() + pu.min()) + direction * (pd.max() + pd.min())
    ) / 2
    half_w, half_h = (pr.max() - pr.min()) / 2, (pu.max() - pu.min()) / 2
    tan = np.tan(np.radians(cam.GetViewAngle() / 2))
    dist = margin * max(half_h, half_w / max(aspect, 1e-3)) / tan + (pd.max() - pd.min()) / 2
    cam.SetFocalPoint(*center)
    cam.SetPosition(*(center + dist * direction))
    cam.SetViewUp(*up)
