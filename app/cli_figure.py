"""``cbstudio figure MAP.nii.gz --out PNG``: a cortex figure rendered off-screen (no X server needed),
with the same scene code as the viewer (:mod:`app.views.scene`)."""

from __future__ import annotations

from pathlib import Path

from core.errors import ParameterError

FORMATS = (".png", ".svg", ".pdf", ".jpg")


def register(subparsers) -> None:
    p = subparsers.add_parser("figure", help="render a map on the cortex to an image (headless)")
    p.add_argument("map", help="3D NIfTI map (MNI space)")
    p.add_argument("--out", required=True, help="output image (.png, .svg, .pdf)")
    p.add_argument("--mesh", default="fs_LR32k", choices=("fs_LR32k", "fsaverage5"))
    p.add_argument(
        "--surface", default="inflated", choices=("inflated", "very_inflated", "midthickness", "pial")
    )
    p.add_argument(
        "--views", default="lateral,medial", help="comma list of lateral, medial, dorsal, ventral, ..."
    )
    p.add_argument("--hemi", default="both", choices=("both", "left", "right"))
    p.add_argument("--threshold", type=float, default=None, help="hide values (|values| if two-sided) below")
    p.add_argument("--cmap", default=None, help="matplotlib colormap (default hot, or RdBu_r if two-sided)")
    p.add_argument("--vmin", type=float, default=None)
    p.add_argument("--vmax", type=float, default=None)
    p.add_argument(
        "--two-sided",
        dest="two_sided",
        action="store_true",
        default=None,
        help="symmetric colours, |value| threshold (default: when the map has both signs)",
    )
    p.add_argument("--one-sided", dest="two_sided", action="store_false")
    p.add_argument("--borders", action="store_true", help="draw Glasser area borders (fs_LR32k)")
    p.add_argument("--units", default=None, help="colour bar title")
    p.add_argument("--size", default="500x400", help="tile size WxH per view and hemisphere")
    p.add_argument("--title", default="")
    p.set_defaults(func=cmd_figure)


def cmd_figure(args) -> int:
    path = make_figure(
        args.map,
        args.out,
        mesh=args.mesh,
        surface=args.surface,
        views=args.views,
        hemi=args.hemi,
        threshold=args.threshold,
        cmap=args.cmap,
        vmin=args.vmin,
        vmax=args.vmax,
        two_sided=args.two_sided,
        borders=args.borders,
        units=args.units,
        size=args.size,
        title=args.title,
    )
    print(f"figure written to {path}")
    return 0


def make_figure(
    map_path,
    out,
    mesh="fs_LR32k",
    surface="inflated",
    views="lateral,medial",
    hemi="both",
    threshold=None,
    cmap=None,
    vmin=None,
    vmax=None,
    two_sided=None,
    borders=False,
    units=None,
    size="500x400",
    title="",
) -> Path:
    """Render ``map_path`` on ``mesh`` and save it to ``out``; return the path (StudioError on bad input)."""
    from app.views.colors import OverlayStyle
    from app.views.figure import compose_figure, parse_size, render_views, save_figure
    from app.views.maps import ProjectionCache
    from app.views.scene import VIEWS
    from core.atlas.meshes import load_mesh
    from core.export.readers import read_map

    out = Path(out)
    if out.suffix.lower() not in FORMATS:
        raise ParameterError(f"--out must end in one of {', '.join(FORMATS)}")
    view_list = tuple(v.strip() for v in str(views).split(",") if v.strip())
    bad = [v for v in view_list if v not in VIEWS]
    if bad or not view_list:
        raise ParameterError(f"unknown view(s) {', '.join(bad) or '(none)'}; choose from {', '.join(VIEWS)}")
    hemis = ("left", "right") if hemi == "both" else (hemi,)
    vmap = read_map(map_path)
    surf = load_mesh(mesh, surface)
    values = ProjectionCache().project(vmap, surf.name)
    is_two = vmap.two_sided if two_sided is None else bool(two_sided)
    style = OverlayStyle(
        cmap=cmap or ("RdBu_r" if is_two else "hot"),
        vmin=vmin,
        vmax=vmax,
        threshold=threshold,
        two_sided=is_two,
        units=units if units is not None else (vmap.units or vmap.name),
    )
    _check_cmap(style.cmap)
    import numpy as np

    shown = np.concatenate([values[h] for h in hemis])
    limits = style.limits(shown)
    image = render_views(surf, values, style, view_list, hemis, parse_size(size), borders=borders)
    fig = compose_figure(image, style, limits, title=title)
    return save_figure(fig, out)


def _check_cmap(name: str) -> None:
    import matplotlib

    if name not in matplotlib.colormaps:
        raise ParameterError(f"unknown colormap {name!r} (any matplotlib colormap name works)")
