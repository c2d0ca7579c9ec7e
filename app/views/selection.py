"""The selected vertex on the cortex: a marker sphere per view, moves along the mesh (arrow keys) and a
jump to the nearest significant vertex.

Moving the selection moves one sphere actor (``SetPosition``); the cortex meshes and their colours are
never touched, so a move costs one frame. On fs_LR 32k, whose two hemispheres are registered vertex to
vertex, a smaller grey sphere marks the counterpart vertex in the other hemisphere.
"""

from __future__ import annotations

import numpy as np
import pyvista as pv
from scipy import sparse

MARKER_COLOR = (0.0, 0.85, 0.2)
COUNTERPART_COLOR = (0.55, 0.55, 0.55)
MARKER_RADIUS_FRACTION = 0.012  # of the hemisphere's bounding-box diagonal
KEY_DIRECTIONS = {"Left": (-1.0, 0.0), "Right": (1.0, 0.0), "Up": (0.0, 1.0), "Down": (0.0, -1.0)}


def mesh_adjacency(faces: np.ndarray, n_vertices: int) -> sparse.csr_matrix:
    """Vertex adjacency of a triangle mesh, bool CSR (N, N): True where two vertices share an edge."""
    faces = np.asarray(faces, dtype=np.int64)
    i = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2]])
    j = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0]])
    adj = sparse.coo_matrix((np.ones(len(i), bool), (i, j)), shape=(n_vertices, n_vertices)).tocsr()
    return ((adj + adj.T) > 0).tocsr()


def neighbours(adjacency: sparse.csr_matrix, vertex: int) -> np.ndarray:
    """The vertices that share an edge with ``vertex``, int (k,)."""
    return adjacency.indices[adjacency.indptr[vertex] : adjacency.indptr[vertex + 1]]


def step_on_screen(
    vertex: int, candidates: np.ndarray, display_xy: np.ndarray, origin_xy: np.ndarray, direction
) -> int:
    """The candidate (a neighbour of ``vertex``) whose screen offset from ``origin_xy`` points most along
    ``direction`` (dx, dy in display pixels, y up); ``vertex`` itself when none moves that way."""
    if len(candidates) == 0:
        return int(vertex)
    d = np.asarray(direction, float)
    offsets = np.asarray(display_xy, float) - np.asarray(origin_xy, float)
    lengths = np.linalg.norm(offsets, axis=1)
    cosine = offsets @ d / np.maximum(lengths, 1e-9)
    best = int(np.argmax(cosine))
    return int(candidates[best]) if cosine[best] > 0.0 else int(vertex)


def nearest_marked(points: dict[str, np.ndarray], mask: dict[str, np.ndarray], hemi: str, vertex: int):
    """(hemi, vertex) of the marked vertex nearest (straight line, mm) to ``vertex`` of ``hemi``, looking
    in the same hemisphere first, then the other; None when nothing is marked."""
    origin = np.asarray(points[hemi][vertex], float)
    order = [hemi] + [h for h in points if h != hemi]
    for h in order:
        marked = np.flatnonzero(np.asarray(mask.get(h, ()), bool))
        if marked.size:
            dist = np.linalg.norm(np.asarray(points[h], float)[marked] - origin, axis=1)
            return h, int(marked[np.argmin(dist)])
    return None


def significance_mask(values: dict[str, np.ndarray], alpha: float = 0.05) -> dict[str, np.ndarray]:
    """Per-vertex bool masks from either bool masks (kept) or p values (``p < alpha``; NaN -> False)."""
    out = {}
    for h, v in values.items():
        v = np.asarray(v)
        if v.dtype == bool:
            out[h] = v
        else:
            with np.errstate(invalid="ignore"):
                out[h] = np.isfinite(v) & (v < alpha)
    return out


class SelectionMarker:
    """Marker spheres in a :class:`~app.views.scene.BrainScene` (one actor per hemisphere renderer)."""

    def __init__(self, scene) -> None:
        self.scene = scene
        self.actors: dict[str, object] = {}
        self.selection: tuple[str, int] | None = None
        self._adjacency: dict[str, tuple[int, sparse.csr_matrix]] = {}

    def _actor(self, hemi: str):
        st = self.scene.states[hemi]
        actor = self.actors.get(hemi)
        if actor is not None and actor._renderer_ref is st.renderer:
            return actor
        if actor is not None:
            actor._renderer_ref.RemoveActor(actor)
        bounds = np.asarray(st.polydata.bounds).reshape(3, 2)
        radius = MARKER_RADIUS_FRACTION * float(np.linalg.norm(bounds[:, 1] - bounds[:, 0]))
        mapper = pv.DataSetMapper(pv.Sphere(radius=radius, theta_resolution=16, phi_resolution=16))
        actor = pv.Actor(mapper=mapper)
        actor.prop.ambient = 0.4
        actor.SetPickable(False)
        actor._renderer_ref = st.renderer
        st.renderer.AddActor(actor)
        self.actors[hemi] = actor
        return actor

    def counterpart(self, hemi: str, vertex: int) -> tuple[str, int] | None:
        """The homologous vertex in the other hemisphere on fs_LR meshes (same index), else None."""
        mesh = self.scene.mesh
        other = [h for h in self.scene.states if h != hemi]
        if mesh is None or not other or not str(mesh.name).startswith("fs_LR"):
            return None
        if self.scene.states[other[0]].polydata.n_points != self.scene.states[hemi].polydata.n_points:
            return None
        return other[0], int(vertex)

    def place(self, hemi: str | None, vertex: int | None = None) -> None:
        """Put the marker on ``vertex`` of ``hemi`` (None hides it); the counterpart marker follows."""
        if hemi is None or hemi not in self.scene.states:
            self.selection = None
            for actor in self.actors.values():
                actor.SetVisibility(False)
            return
        n = self.scene.states[hemi].polydata.n_points
        if not 0 <= int(vertex) < n:
            raise IndexError(f"vertex {vertex} outside the {hemi} hemisphere's {n} vertices")
        self.selection = (hemi, int(vertex))
        twin = self.counterpart(hemi, vertex)
        for h, st in self.scene.states.items():
            actor = self._actor(h)
            target = (hemi, vertex) if h == hemi else twin
            if target is None:
                actor.SetVisibility(False)
                continue
            actor.SetPosition(*np.asarray(st.polydata.points[target[1]], float))
            actor.prop.color = MARKER_COLOR if h == hemi else COUNTERPART_COLOR
            actor.SetScale(1.0 if h == hemi else 0.7)
            actor.SetVisibility(True)

    def refresh(self) -> None:
        """Re-place the marker after a mesh or surface change (same vertex, new coordinates); a vertex
        that no longer exists clears the selection."""
        sel = self.selection
        if sel is None or sel[0] not in self.scene.states:
            self.place(None)
            return
        if sel[1] >= self.scene.states[sel[0]].polydata.n_points:
            self.place(None)
            return
        self.place(*sel)

    def position(self, hemi: str | None = None) -> np.ndarray | None:
        """World position of the marker in ``hemi`` (default: the selected hemisphere)."""
        hemi = hemi or (self.selection[0] if self.selection else None)
        actor = self.actors.get(hemi)
        return None if actor is None or not actor.GetVisibility() else np.asarray(actor.GetPosition())

    def adjacency(self, hemi: str) -> sparse.csr_matrix:
        st = self.scene.states[hemi]
        cached = self._adjacency.get(hemi)
        if cached is None or cached[0] != id(st.faces):
            cached = (id(st.faces), mesh_adjacency(st.faces, st.polydata.n_points))
            self._adjacency[hemi] = cached
        return cached[1]

    def step(self, key: str) -> tuple[str, int] | None:
        """The neighbouring vertex one arrow-key step (``Left``/``Right``/``Up``/``Down``) away on screen."""
        if self.selection is None or key not in KEY_DIRECTIONS:
            return None
        hemi, vertex = self.selection
        pts = self.scene.states[hemi].polydata.points
        cand = neighbours(self.adjacency(hemi), vertex)
        xy = np.array([self.scene.world_to_display(hemi, pts[c])[:2] for c in cand]).reshape(-1, 2)
        origin = self.scene.world_to_display(hemi, pts[vertex])[:2]
        return hemi, step_on_screen(vertex, cand, xy, origin, KEY_DIRECTIONS[key])

    def nearest(self, mask: dict[str, np.ndarray]) -> tuple[str, int] | None:
        """The marked vertex nearest to the selection (see :func:`nearest_marked`)."""
        if self.selection is None:
            return None
        points = {h: np.asarray(st.polydata.points) for h, st in self.scene.states.items()}
        return nearest_marked(points, mask, *self.selection)

    def close(self) -> None:
        for actor in self.actors.values():
            actor._renderer_ref.RemoveActor(actor)
        self.actors.clear()


class SelectionMixin:
    """Selection behaviour of :class:`~app.views.cortex_view.CortexView` (needs ``self.marker``,
    ``self.scene``, ``self.redraw`` and the ``vertexPicked`` signal). Every selection change emits
    ``vertexPicked(hemi, vertex)`` unless ``emit=False`` (used by linked views to mirror a pick)."""

    @property
    def selection(self) -> tuple[str, int] | None:
        return self.marker.selection

    def select(self, hemi: str | None, vertex: int | None = None, emit: bool = True) -> None:
        """Select ``vertex`` of ``hemi`` (None clears): the marker moves, nothing else is redrawn."""
        self.marker.place(hemi, vertex)
        self.redraw()
        if emit and self.marker.selection is not None:
            self.vertexPicked.emit(*self.marker.selection)

    def move_selection(self, key: str) -> tuple[str, int] | None:
        """Move the selection one neighbouring vertex ``Left``/``Right``/``Up``/``Down`` on screen."""
        target = self.marker.step(key)
        if target is not None and target != self.marker.selection:
            self.select(*target)
        return self.marker.selection

    def select_nearest_significant(self, values=None, alpha: float = 0.05) -> tuple[str, int] | None:
        """Move the selection to the nearest significant vertex.

        Parameters
        ----------
        values : {hemi: (N,) bool mask or p values per vertex}; None uses the shown map's p companion
            (see :func:`app.views.map_values.p_companion`), projected on the mesh.
        alpha : p values below it are significant.

        Returns the new selection, or None (no selection, no p map, or nothing significant).
        """
        if values is None:
            values = self.companion_p_values()
            if values is None:
                return None
        target = self.marker.nearest(significance_mask(values, alpha))
        if target is not None:
            self.select(*target)
        return target

    def _on_key(self, *_args) -> None:
        key = self.plotter.iren.interactor.GetKeySym()
        if key in KEY_DIRECTIONS:
            self.move_selection(key)

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt API
        from PySide6.QtCore import Qt

        keys = {Qt.Key_Left: "Left", Qt.Key_Right: "Right", Qt.Key_Up: "Up", Qt.Key_Down: "Down"}
        if event.key() in keys:
            self.move_selection(keys[event.key()])
            event.accept()
            return
        super().keyPressEvent(event)
