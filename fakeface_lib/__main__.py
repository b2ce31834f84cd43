"""Command line: ``python -m fakeface_lib run`` executes the whole series and writes a report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fakeface_lib",
                                     description="Run the fakeface notebook series.",
                                     allow_abbrev=False)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute notebooks 00-05 and write report.md/report.html",
                         allow_abbrev=False)
    run.add_argument("--data", default="demo",
                     help="demo (default, offline), kaggle, a Google Drive file id, a .zip or a folder")
    run.add_argument("--smoke", action="store_true", help="tiny settings: seconds per notebook")
    run.add_argument("--out", type=Path, default=None, help="output folder (default runs/<data>-<time>/)")
    run.add_argument("--epochs-scale", type=float, default=1.0,
                     help="multiply each notebook's EPOCHS (the report's recipe) by this factor")
    run.add_argument("--seed", type=int, default=42)
    run.add_argument("--data-dir", type=Path, default=None,
                     help="where datasets are downloaded or generated (default: the repo's data/)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .runner import NotebookFailed, RunOptions, run_series

    opts = RunOptions(data=args.data, smoke=args.smoke, out=args.out,
                      epochs_scale=args.epochs_scale, seed=args.seed)
    if args.data_dir is not None:
        opts.data_dir = args.data_dir.resolve()
    try:
        out_dir = run_series(opts)
    except (NotebookFailed, FileNotFoundError, ValueError) as err:
        print(f"\nStopped: {err}", file=sys.stderr)
        return 1
    print(f"\nReport: {out_dir / 'report.md'}\n        {out_dir / 'report.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
