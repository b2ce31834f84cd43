"""report.md and a self-contained report.html for one run of the series."""

from __future__ import annotations

import base64
import re
from datetime import datetime
from pathlib import Path

import pandas as pd

from .results import environment, load_runs, load_summary, results_table

CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#222}table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;
padding:.3rem .6rem;text-align:right}th{background:#f3f3f3}td:first-child,th:first-child
{text-align:left}img{max-width:100%}code{background:#f3f3f3;padding:0 .2rem}"""


def _fmt_table(runs: list[dict]) -> str:
    table = results_table(runs)
    for col in ("test_acc", "balanced_acc", "majority_baseline"):
        table[col] = table[col].map(lambda v: f"{100 * v:.1f} %")
    table["roc_auc"] = table["roc_auc"].map(lambda v: "n/a" if pd.isna(v) else f"{v:.3f}")
    table["params"] = table["params"].map(lambda v: f"{v:,}")
    table["train_seconds"] = table["train_seconds"].map(lambda v: f"{v:.0f}")
    table.columns = ["Model", "Leak-free", "Test accuracy", "Balanced accuracy", "ROC AUC",
                     "Majority baseline", "Parameters", "Epochs", "Train time (s)", "Test images"]
    return table.to_markdown(index=False, disable_numparse=True,
                             colalign=("left", "left") + ("right",) * (len(table.columns) - 2))


def _figures(runs: list[dict], fig_dir: Path) -> list[tuple[str, str]]:
    """Save the ROC and training-curve figures; return (caption, relative path) pairs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plots import plot_history, plot_roc

    fig_dir.mkdir(parents=True, exist_ok=True)
    saved = []
    curves = {r["title"]: r["preds"] for r in runs if r.get("preds") is not None}
    if curves:
        fig = plot_roc(curves)
        fig.savefig(fig_dir / "roc.png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        saved.append(("ROC curves on the test set (positive class: training_fake)", "figures/roc.png"))
    for run in runs:
        if run.get("history"):
            fig = plot_history(run["history"])
            fig.suptitle(run["title"])
            name = f"figures/history_{run['name']}.png"
            fig.savefig(fig_dir.parent / name, dpi=90, bbox_inches="tight")
            plt.close(fig)
            saved.append((f"Training curves: {run['title']}", name))
    return saved


def _data_section(results_dir: Path) -> list[str]:
    summary = load_summary(results_dir, "data")
    if not summary:
        return ["_Notebook 00 saved no data summary._"]
    lines = [f"- {key.replace('_', ' ')}: {value}" for key, value in summary.items()]
    leak = load_summary(results_dir, "leak")
    if leak:
        lines += [f"- leak experiment (notebook 03): {k.replace('_', ' ')}: {v}" for k, v in leak.items()]
    return lines


def write_report(out_dir: Path, results_dir: Path, *, opts, timings: dict[str, float]) -> Path:
    """Write ``report.md`` and ``report.html`` in ``out_dir``; return the markdown path."""
    runs = load_runs(results_dir)
    env = environment()
    md = [f"# fakeface: run of {datetime.now():%Y-%m-%d %H:%M}", "",
          "## Models compared", "",
          _fmt_table(runs) if runs else "_No notebook saved results._", "",
          "Accuracy on its own flatters: always answering *real* scores the majority baseline. "
          "Rows marked NO (leaky) use the report's flawed protocol (augment, then split) and "
          "measure memorisation, not detection.", ""]
    md += ["## Figures", ""]
    for caption, rel in _figures(runs, out_dir / "figures"):
        md += [f"![{caption}]({rel})", "", f"*{caption}*", ""]
    md += ["## Data", ""] + _data_section(results_dir) + [""]
    md += ["## How this run was made", "",
           f"- data: `{opts.data}`; smoke: {opts.smoke}; epochs scale: {opts.epochs_scale}; seed: {opts.seed}",
           f"- device: {env['device']}; torch {env['torch']}; Python {env['python']}; {env['platform']}",
           "- notebook times: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()),
           f"- total: {sum(timings.values()):.0f} s", ""]
    md_path = out_dir / "report.md"
    md_path.write_text("\n".join(md), encoding="utf-8")
    (out_dir / "report.html").write_text(_to_html("\n".join(md), out_dir), encoding="utf-8")
    return md_path


def _to_html(md_text: str, base: Path) -> str:
    """Markdown to one HTML file, figures embedded so it can be mailed or projected as is."""
    import markdown

    body = markdown.markdown(md_text, extensions=["tables"])

    def embed(match: re.Match) -> str:
        data = base64.b64encode((base / match.group(1)).read_bytes()).decode()
        return f'src="data:image/png;base64,{data}"'

    body = re.sub(r'src="(figures/[^"]+\.png)"', embed, body)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>fakeface report</title>"
            f"<style>{CSS}</style></head><body>{body}</body></html>")
