"""report.md and a self-contained report.html for one run of the series."""

from __future__ import annotations

import base64
import re
from datetime import datetime
from pathlib import Path

import pandas as pd

from fakeface_lib.evaluation.results import (
    choose_best,
    data_label,
    environment,
    load_runs,
    load_summary,
    results_table,
)

CSS = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;
color:#222}table{border-collapse:collapse;margin:1rem 0}th,td{border:1px solid #ccc;
padding:.3rem .6rem;text-align:right}th{background:#f3f3f3}td:first-child,th:first-child
{text-align:left}img{max-width:100%}code{background:#f3f3f3;padding:0 .2rem}
.scroll{overflow-x:auto}"""


def _fmt_table(runs: list[dict]) -> str:
    table = results_table(runs)
    for col in ("test_acc", "balanced_acc", "majority_baseline"):
        table[col] = table[col].map(lambda v: f"{100 * v:.1f} %")
    table["val_acc"] = table["val_acc"].map(lambda v: "n/a" if pd.isna(v) else f"{100 * v:.1f} %")
    table["roc_auc"] = table["roc_auc"].map(lambda v: "n/a" if pd.isna(v) else f"{v:.3f}")
    table["params"] = table["params"].map(lambda v: f"{v:,}")
    table["train_seconds"] = table["train_seconds"].map(lambda v: f"{v:.0f}")
    table.columns = ["Model", "Leak-free", "Validation accuracy", "Test accuracy", "Balanced accuracy", "ROC AUC",
                     "Majority baseline", "Parameters", "Epochs", "Train time (s)", "Test images"]
    return table.to_markdown(index=False, disable_numparse=True,
                             colalign=("left", "left") + ("right",) * (len(table.columns) - 2))


def _figures(runs: list[dict], fig_dir: Path, tag: str) -> list[tuple[str, str]]:
    """Save the ROC and training-curve figures; return (caption, relative path) pairs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fakeface_lib.plots import plot_history, plot_roc

    fig_dir.mkdir(parents=True, exist_ok=True)
    saved = []
    curves = {r["title"]: r["preds"] for r in runs if r.get("preds") is not None}
    if curves:
        fig = plot_roc(curves)
        fig.savefig(fig_dir / f"roc_{tag}.png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        saved.append(("ROC curves on the test set (positive class: training_fake)",
                      f"figures/roc_{tag}.png"))
    for run in runs:
        if run.get("history"):
            fig = plot_history(run["history"])
            fig.suptitle(run["title"])
            name = f"figures/history_{tag}_{run['name']}.png"
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
        lines += [f"- leak experiment (notebook 03b): {k.replace('_', ' ')}: {v}" for k, v in leak.items()]
    return lines


def _groups(results_dir: Path) -> list[Path]:
    """The results folders under results_dir, one per data source (results_dir itself if flat)."""
    folders = [results_dir] + sorted(p for p in results_dir.iterdir() if p.is_dir()) \
        if results_dir.is_dir() else []
    return [f for f in folders if any(f.glob("*.json"))]


def _best_line(runs: list[dict]) -> str:
    best = choose_best(runs)
    if best is None:
        return "_No leak-free run with a validation history: none is chosen._"
    val = best["history"][best["best_epoch"] - 1]["val_acc"]
    m = best["metrics"]
    return (f"**Chosen on validation: {best['title']}** (validation accuracy {100 * val:.1f} %); "
            f"its test figures, measured once: accuracy {100 * m['accuracy']:.1f} %, balanced "
            f"accuracy {100 * m['balanced_accuracy']:.1f} %, ROC AUC {m['roc_auc']:.3f}.")


def _quiz_line(results_dir: Path) -> list[str]:
    """Notebook 06's quiz: each answerer's score on the same faces, with its 95 % interval."""
    quiz = load_summary(results_dir, "quiz")
    if not quiz:
        return []
    scores = "; ".join(f"{who} {s['correct']}/{s['n']} = {100 * s['accuracy']:.0f} % (95 % interval "
                       f"{100 * s['low']:.0f}-{100 * s['high']:.0f} %)" for who, s in quiz["scores"].items())
    return [f"**Spot the fake (notebook 06, quiz {quiz['quiz_id']}, {quiz['faces']} test faces):** "
            f"{scores}.", ""]


def _group_section(folder: Path, out_dir: Path) -> list[str]:
    runs = load_runs(folder)
    label = data_label(runs) if runs else folder.name
    md = [f"## Models compared: {label}", ""]
    if runs:
        md += [_fmt_table(runs), "", _best_line(runs), ""]
        for caption, rel in _figures(runs, out_dir / "figures", folder.name):
            md += [f"![{caption}]({rel})", "", f"*{caption}*", ""]
    else:
        md += ["_No notebook saved results for this data._", ""]
    md += _quiz_line(folder)
    return md + [f"### Data ({label})", ""] + _data_section(folder) + [""]


def write_report(out_dir: Path, results_dir: Path, *, opts, timings: dict[str, float]) -> Path:
    """Write ``report.md`` and ``report.html`` in ``out_dir``; return the markdown path.

    One section per data source found under ``results_dir``: runs of other data, or smoke
    runs, never share a table.
    """
    env = environment()
    md = [f"# fakeface: run of {datetime.now():%Y-%m-%d %H:%M}", "",
          "Accuracy on its own flatters: always answering *real* scores the majority baseline. "
          "Rows marked NO (leaky) use the report's flawed protocol (augment, then split) and "
          "measure memorisation, not detection. The best run is chosen on validation accuracy; "
          "the test set is used once, for the figures reported.", ""]
    groups = _groups(Path(results_dir))
    for folder in groups:
        md += _group_section(folder, out_dir)
    if not groups:
        md += ["_No notebook saved results._", ""]
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
    # a wide table scrolls inside its own box instead of widening the page (phones, narrow windows)
    body = re.sub(r"<table>(.*?)</table>", r"<div class='scroll'><table>\1</table></div>", body,
                  flags=re.S)
    return (f"<!doctype html><html><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>fakeface report</title><style>{CSS}</style></head><body>{body}</body></html>")
