"""The ``cbstudio`` command line (DESIGN.md, CLI contract).

Every StudioError is printed as one line on stderr with exit code 2; nothing is written on failure.
Heavy modules (Qt, torch, numba, pandas) are imported only by the sub-command that needs them: building
the parser imports the standard library and the light :mod:`app.cli_features` / :mod:`app.cli_figure`
(``tests/test_startup.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app import cli_features, cli_figure, cli_study
from app.cli_progress import tqdm_progress
from core.errors import Cancelled, StudioError

EXIT_BAD_INPUT = 2
EXIT_CANCELLED = 130


def _parse_sets(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise StudioError(f"--set expects key=value, got {pair!r}")
        key, value = pair.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def cmd_plugins(args) -> int:
    from app.plugins.presets import available_presets
    from app.plugins.registry import Registry

    registry = Registry()
    plugins = registry.describe_all()  # manifests: no plugin module is imported
    rows = [
        {"name": n, "title": c.title, "outputs": list(c.outputs), "description": c.description,
         "presets": available_presets(c)}
        for n, c in plugins.items()
    ]
    if args.json:
        print(json.dumps({"plugins": rows, "errors": registry.errors}, indent=2))
    else:
        for row in rows:
            presets = f"  presets: {', '.join(sorted(row['presets']))}" if row["presets"] else ""
            print(f"{row['name']:<14} {row['title']}  [{', '.join(row['outputs'])}]{presets}")
        for name, err in registry.errors.items():
            print(f"{name:<14} DISABLED: {err}", file=sys.stderr)
    return 0


def cmd_info(args) -> int:
    from core.data.readers import ignored_files, open_dataset

    dataset = open_dataset(args.path)
    info = dataset.describe()
    info["ignored"] = ignored_files(dataset)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"dataset   {info['name']}  ({info['reader']} reader, {info['space']})")
    print(f"path      {info['path']}")
    print(f"paradigms {', '.join(info['paradigms'])}")
    print(f"concepts  {info['n_concepts']}")
    if info["stimuli"] is not None:
        print(f"stimuli   {info['stimuli']} rows")
    print(f"participants {len(info['participants'])}:")
    for s in info["participants"]:
        trials = ", ".join(f"{p} {n}" for p, n in s["trials"].items())
        extras = [x for x, on in (("splits", s["splits"]), ("language map", s["language_map"])) if on]
        extras_text = ", ".join(extras) or "-"
        print(f"  {s['participant']:<6} {s['voxels']:>7} voxels; trials: {trials}; {extras_text}")
    if info["ignored"]:
        print(f"ignored   {len(info['ignored'])} files not read:")
        for item in info["ignored"]:
            print(f"  {item['path']}: {item['reason']}")
    return 0


def cmd_demo(args) -> int:
    from core.demo.synthetic import make_demo

    progress = tqdm_progress("demo")
    try:
        path = make_demo(
            Path(args.dir), n_participants=args.participants, seed=args.seed, size=args.size,
            stimuli_path=Path(args.stimuli) if args.stimuli else None, progress=progress,
        )
    finally:
        progress.close()
    print(f"demo dataset written to {path}")
    return 0


def _parse_prior(pairs: list[str], results: str | None) -> dict[str, str]:
    out = {"consistency": results} if results else {}
    for pair in pairs or []:
        name, sep, folder = pair.partition("=")
        if not sep or not name.strip() or not folder.strip():
            raise StudioError(f"--prior expects ANALYSIS=DIR, got {pair!r}")
        out[name.strip()] = folder.strip()
    return out


def cmd_run(args) -> int:
    from app.plugins.registry import Registry

    if args.help or args.name is None:
        if args.name is None:
            args.parser.print_help()
            names = ", ".join(Registry().names())
            print(f"\nanalyses: {names}  (cbstudio run NAME --help for its parameters)")
            return 0 if args.help else EXIT_BAD_INPUT
        from app.cli_help import plugin_help

        print(plugin_help(Registry().describe(args.name)))
        return 0
    if args.out is None:
        raise StudioError("run needs --out DIR")
    from app.plugins.runner import run_analysis
    from core.errors import PluginError

    registry = Registry()
    plugin = registry.load(args.name)
    params = _parse_sets(args.set)
    prior = _parse_prior(args.prior, args.results)
    if args.preset:
        from app.plugins.presets import preset_values

        preset_values(plugin, args.preset)  # an unknown preset fails before the progress bar
    if args.data is None and "dataset" in plugin.inputs:
        raise StudioError(f"{args.name} needs --data PATH")
    if args.data is not None and not Path(args.data).exists():
        raise StudioError(f"{args.data}: does not exist")
    progress = tqdm_progress(args.name)
    try:
        record = run_analysis(
            plugin, args.data, params, args.out, device=args.device, prior=prior,
            progress=progress, preset=args.preset,
        )
    except (StudioError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - a plugin bug is reported, not dumped
        if _interrupted(exc):
            raise KeyboardInterrupt from exc
        raise PluginError(f"analysis {args.name!r} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        progress.close()
    print(f"{args.name}: wrote {len(record.paths)} files to {args.out}")
    return 0


def _interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` was caused by Ctrl-C: inside compiled code (numba) the KeyboardInterrupt surfaces
    as a chain of SystemError("... returned a result with an exception set")."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def cmd_gui(args) -> int:
    import gc

    gc.disable()  # no collections while the window's modules load (~0.35 s of a cold start); see freeze_heap
    from app.gui_run import run_app

    return run_app(data=args.data, screenshot=args.screenshot, results=args.results,
                   card_screenshot=args.card_screenshot, show_map=args.show_map)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cbstudio", description="Concept Brain Studio")
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("gui", help="open the desktop application")
    p.add_argument("--data", help="dataset to open (default: the demo dataset)")
    p.add_argument("--results", help="a results folder to show")
    p.add_argument("--screenshot", help="save a window screenshot to this PNG and exit")
    p.add_argument("--card-screenshot", help="pick the vertex under the largest value of the map shown, "
                   "save the voxel card to this PNG and exit")
    p.add_argument("--show-map", help="the map to show before the screenshots (default: the first)")
    p.set_defaults(func=cmd_gui)

    p = sub.add_parser("plugins", help="list analyses")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("demo", help="write the synthetic demo dataset")
    p.add_argument("dir")
    p.add_argument("--participants", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--size", choices=("small", "full"), default="small")
    p.add_argument("--stimuli", help="the paper's stimulus table (CSV or XLSX) for the stimulus texts")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("info", help="describe a dataset")
    p.add_argument("path")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("run", help="run an analysis (cbstudio run NAME --help: its parameters)",
                       add_help=False)
    p.add_argument("name", nargs="?")
    p.add_argument("-h", "--help", action="store_true", help="show the analysis' parameters and exit")
    p.add_argument("--data")
    p.add_argument("--out", help="results folder (required to run)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--preset", metavar="NAME",
                   help="set every method parameter to a named preset first (e.g. 'paper'); --set overrides")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    p.add_argument("--prior", action="append", default=[], metavar="ANALYSIS=DIR",
                   help="earlier results an analysis requires or uses (consistency=out/cons); repeatable")
    p.add_argument("--results", help="same as --prior consistency=DIR")
    p.set_defaults(func=cmd_run, parser=p)

    cli_features.register(sub)
    cli_figure.register(sub)
    cli_study.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["gui", *(argv or [])])
    try:
        return int(args.func(args) or 0)
    except Cancelled as exc:
        print(f"cbstudio: {exc}", file=sys.stderr)
        return EXIT_CANCELLED
    except KeyboardInterrupt:
        print("cbstudio: interrupted", file=sys.stderr)
        return EXIT_CANCELLED
    except StudioError as exc:
        print(f"cbstudio: error: {exc}".splitlines()[0], file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
