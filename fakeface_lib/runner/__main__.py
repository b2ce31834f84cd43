"""Command line: ``python -m fakeface_lib.runner run`` executes the whole series of the checkout
it runs in and writes a report; ``python -m fakeface_lib.runner prune`` deletes old run folders."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fakeface_lib.runner.repo import find_repo
from fakeface_lib.runner.runs import GB, prune_runs, usage_note


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fakeface_lib.runner",
                                     description="Run the fakeface notebook series.",
                                     allow_abbrev=False)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute notebooks 00-06 and write report.md/report.html",
                         allow_abbrev=False)
    run.add_argument("--data", default="demo",
                     help="demo (default, offline), kaggle, a Google Drive file id or link, a .zip or a "
                          "folder (a relative path is taken from the current folder)")
    run.add_argument("--smoke", action="store_true", help="tiny settings: seconds per notebook")
    run.add_argument("--out", type=Path, default=None, help="output folder (default runs/<data>-<time>/)")
    run.add_argument("--repo", type=Path, default=None,
                     help="the checkout whose notebooks run (default: the current folder or the "
                          "nearest one above it with notebooks/)")
    run.add_argument("--epochs-scale", type=float, default=1.0,
                     help="multiply each notebook's EPOCHS (the report's recipe) by this factor")
    run.add_argument("--seed", type=int, default=42)
    run.add_argument("--data-dir", type=Path, default=None,
                     help="where datasets are downloaded or generated (default: the checkout's data/)")
    run.add_argument("--checkpoints", action=argparse.BooleanOptionalAction, default=None,
                     help="save checkpoints and resume from them (default: off with --smoke, "
                          "each notebook's own setting otherwise)")
    run.add_argument("--amp", action="store_true",
                     help="mixed precision in the notebooks that offer it (Model 2's), its dtype "
                          "chosen by the hardware: float16 on a T4, bfloat16 on recent GPUs and "
                          "on CPUs with AMX or AVX512-BF16, off elsewhere")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                     help="set a parameter of the notebooks that declare it (repeatable), e.g. "
                          "--set EXPERIMENT_MODEL=model1")
    prune = sub.add_parser("prune", help="delete all but the newest run folders under runs/",
                           allow_abbrev=False)
    prune.add_argument("--keep", type=int, default=1, help="how many of the newest runs to keep (default 1)")
    prune.add_argument("--root", type=Path, default=None,
                       help="the runs folder (default: runs/ of the checkout the current folder is in)")
    prune.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    return parser


def prune(args: argparse.Namespace) -> int:
    try:
        removed = prune_runs(args.root or find_repo() / "runs", keep=args.keep, dry_run=args.dry_run)
    except (ValueError, FileNotFoundError) as err:
        print(f"Stopped: {err}", file=sys.stderr)
        return 1
    verb = "would delete" if args.dry_run else "deleted"
    for folder, size in removed:
        print(f"{verb} {folder} ({size / GB:.2f} GB)")
    freed = sum(size for _, size in removed) / GB
    print(f"{len(removed)} run(s) {verb}, {freed:.2f} GB." if removed else "Nothing to delete.")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "prune":
        return prune(args)
    from fakeface_lib.runner.series import NotebookFailed, RunOptions, parse_override, run_series

    try:
        overrides = dict(parse_override(text) for text in args.overrides)
    except ValueError as err:
        print(f"Stopped: {err}", file=sys.stderr)
        return 2
    opts = RunOptions(data=args.data, smoke=args.smoke, out=args.out,
                      epochs_scale=args.epochs_scale, seed=args.seed, checkpoints=args.checkpoints,
                      amp=args.amp, repo=args.repo, overrides=overrides)
    if args.data_dir is not None:
        opts.data_dir = args.data_dir  # run_series makes it absolute, as --data and --out
    try:
        out_dir = run_series(opts)
    except (NotebookFailed, FileNotFoundError, ValueError) as err:
        print(f"\nStopped: {err}", file=sys.stderr)
        return 1
    print(f"\nReport: {out_dir / 'report.md'}\n        {out_dir / 'report.html'}")
    note = usage_note(out_dir.parent)
    if note:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
