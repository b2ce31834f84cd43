"""Turn the benchmark JSON files in benchmarks/results/ into benchmarks/results.md,
and refresh the results table between the markers in README.md.

    python benchmarks/make_results_md.py
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
README = HERE.parent / "README.md"
MARKERS = ("<!-- results:start -->", "<!-- results:end -->")


def num(values: list[float], digits: int = 3, scale: float = 1.0, unit: str = "") -> str:
    """Mean ± sample standard deviation over seeds (just the value for one seed)."""
    values = [scale * v for v in values if v is not None]
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}{unit}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}{unit}"


def pct(values: list[float]) -> str:
    """Fractions as percentages: mean ± standard deviation over seeds."""
    return num(values, digits=1, scale=100.0, unit=" %")


def header(record: dict) -> list[str]:
    m = record.get("machine", {})
    where = ", ".join(f"{k} {v}" for k, v in m.items()) if isinstance(m, dict) else str(m)
    return [f"- command: `{record.get('command', '?')}`", f"- date: {record.get('date', '?')}",
            f"- machine: {where}", ""]


def _by_run(runs: list[dict]) -> dict[str, list[dict]]:
    order: dict[str, list[dict]] = {}
    for run in runs:
        order.setdefault(run["run"], []).append(run)
    return order


def has_val(run: dict) -> bool:
    """Whether a run recorded the validation figures of its chosen epoch."""
    return run.get("val_accuracy") is not None and run.get("val_loss") is not None


def series_table(runs: list[dict]) -> list[str]:
    """One row per run name, aggregated over seeds (mean ± std).

    "val accuracy" is the chosen (best-validation) epoch's, n/a where a run did not record it.
    """
    lines = ["| run | seeds | val accuracy | test accuracy | balanced accuracy | ROC AUC "
             "| with flip TTA: accuracy / AUC | majority baseline | leaked test items | epochs "
             "| train time / run |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, group in _by_run(runs).items():
        leak = [r["leaked_fraction"] for r in group if r.get("leaked_fraction") is not None]
        tta = [r for r in group if r.get("tta_accuracy") is not None]
        tta_cell = (f"{pct([r['tta_accuracy'] for r in tta])} / {num([r['tta_roc_auc'] for r in tta])}"
                    if tta else "n/a")
        val_cell = pct([r["val_accuracy"] for r in group]) if all(map(has_val, group)) else "n/a"
        lines.append(
            f"| {group[0]['title']} | {len(group)} | {val_cell} | {pct([r['accuracy'] for r in group])} "
            f"| {pct([r['balanced_accuracy'] for r in group])} | {num([r['roc_auc'] for r in group])} "
            f"| {tta_cell} | {pct([r['majority_baseline'] for r in group])} "
            f"| {pct(leak) if leak else '0 (split first)'} "
            f"| {group[0]['epochs']} | {statistics.mean(r['train_seconds'] for r in group):.0f} s |")
    return lines


def val_table(runs: list[dict]) -> list[str]:
    """Seed by seed, for the runs that recorded validation figures: what was chosen, on what."""
    rows = [r for r in runs if has_val(r)]
    if not rows:
        return []
    lines = ["Validation figures of the chosen epoch, seed by seed (val accuracy and loss from "
             "training's own evaluation of that epoch; \"val, predicted\" and \"val, flip TTA\": "
             "the validation set predicted as the test set is, without and with flip TTA), then the "
             "test figures of the same weights:", "",
             "| run | seed | best epoch | val accuracy | val loss | val, predicted | val, flip TTA "
             "| test accuracy | balanced accuracy | ROC AUC |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['title']} | {r['seed']} | {r.get('best_epoch')} of {r['epochs']} "
            f"| {pct([r['val_accuracy']])} | {r['val_loss']:.4f} | {pct([r.get('val_predict_accuracy')])} "
            f"| {pct([r.get('tta_val_accuracy')])} | {pct([r['accuracy']])} "
            f"| {pct([r['balanced_accuracy']])} | {num([r['roc_auc']])} |")
    return lines + [""]


def _mean(group: list[dict], key: str) -> float:
    return statistics.mean(r[key] for r in group)


def best_leak_free(runs: list[dict], dates: dict[str, str] | None = None) -> list[str]:
    """The leak-free model chosen on validation, and its test figures (the test set used once).

    Candidates: the run groups on the canonical split (protocol "honest": the same validation
    set for all) whose every run recorded the chosen epoch's validation figures. The model: the
    highest mean val accuracy, ties broken by the lower mean val loss. Flip TTA: used if it
    raises that model's mean validation accuracy (both measured by predict(), as on test).
    Test figures never enter the choice. ``dates``: run name -> date of its file, for the note
    on the groups that cannot be chosen among.
    """
    groups = {n: g for n, g in _by_run(runs).items()
              if all(r.get("protocol", "honest") == "honest" for r in g)}
    eligible = {n: g for n, g in groups.items() if all(map(has_val, g))}
    without = [n for n in groups if n not in eligible]
    note = ""
    if without:
        dates = dates or {}
        first_val = min((dates.get(n, "") for n in eligible), default="")
        last_without = max(dates.get(n, "") for n in without)
        since = (f", all measured before {first_val[:16].replace('T', ' ')} UTC"
                 if first_val and last_without and last_without < first_val else "")
        note = (f"{len(without)} of the {len(groups)} leak-free run groups on the canonical split "
                f"recorded no validation figures{since}: they cannot be chosen among, and their "
                "test figures are measurements, not a choice.")
    if not eligible:
        return [f"**No best leak-free model is named**: every choice is made on validation, and "
                f"none of the {len(groups)} leak-free run groups on the canonical split recorded "
                "validation figures; their test figures are measurements, not a choice.", ""]
    ranked = sorted(eligible.items(),
                    key=lambda item: (-_mean(item[1], "val_accuracy"), _mean(item[1], "val_loss")))
    name, group = ranked[0]
    seeds = len(group)
    val_acc = [r["val_accuracy"] for r in group]
    can_tta = all(r.get("tta_val_accuracy") is not None and r.get("val_predict_accuracy") is not None
                  and r.get("tta_accuracy") is not None for r in group)
    tta = can_tta and _mean(group, "tta_val_accuracy") > _mean(group, "val_predict_accuracy")
    pre = "tta_" if tta else ""
    what = group[0]["title"] + (" + flip TTA" if tta else "")
    if can_tta:
        tta_why = (f"flip TTA {'used' if tta else 'not used'}: validation accuracy "
                   f"{pct([r['tta_val_accuracy'] for r in group])} with it against "
                   f"{pct([r['val_predict_accuracy'] for r in group])} without")
    else:
        tta_why = "flip TTA not used: no validation figures with it"
    line = [f"**Best leak-free model on the 160x160 copy, chosen on validation: {what}** "
            f"(val accuracy {pct(val_acc)}, val loss {num([r['val_loss'] for r in group], 4)}, "
            f"{seeds} seed{'s' if seeds > 1 else ''}; {tta_why}). "
            f"Its test figures, the test set used once: accuracy {pct([r[pre + 'accuracy'] for r in group])}, "
            f"balanced accuracy {pct([r[pre + 'balanced_accuracy'] for r in group])}, "
            f"ROC AUC {num([r[pre + 'roc_auc'] for r in group])}."]
    if seeds < 3:
        more = [(n, g) for n, g in ranked if len(g) >= 3]
        if more:
            extra_more = [r["extra_choices"] for r in more[0][1] if r.get("extra_choices")]
            line.append(f"One seed is good to about ±6.5 points; the best on validation over 3 or "
                        f"more seeds is {more[0][1][0]['title']} (val accuracy "
                        f"{pct([r['val_accuracy'] for r in more[0][1]])}"
                        + (f", a figure that also chose the {extra_more[0].split(' among ')[0]}"
                           if extra_more else "")
                        + f"; test accuracy {pct([r['accuracy'] for r in more[0][1]])}).")
    among = (f"Chosen among {len(ranked)} run groups with validation figures"
             if len(ranked) > 1 else "The only run group with validation figures so far, so nothing "
             "to choose among yet")
    extra = [r["extra_choices"] for r in group if r.get("extra_choices")]
    if extra:
        line.append(f"Its validation figure also chose the {extra[0].split(' among ')[0]} "
                    f"(seed by seed: {'; '.join(extra)}), so it flatters more than a best epoch's.")
    line.append(f"{among}; a best epoch's val accuracy is a maximum over epochs, so it flatters, "
                "and the test figure is the one to quote.")
    if note:
        line.append(note)
    return [" ".join(line), ""]


CHOICE_RULE = ("Every choice is made on validation: each run's best epoch (fit()'s highest val "
               "accuracy), the best model (the highest mean val accuracy over seeds, ties broken by "
               "the lower val loss, among the run groups on the canonical split whose runs all "
               "recorded validation figures) and flip TTA or not (used only if it raises that "
               "model's validation accuracy). The test set is used once, for the figures reported; "
               "the tables' test figures are measurements, never the ground for a choice. Runs "
               "measured before the benchmark recorded validation figures show n/a in the \"val "
               "accuracy\" column and cannot be chosen among.")

LEVELS = ["real", "easy", "mid", "hard"]
DIFFICULTY_CAPTION = ("Accuracy by difficulty (real = share of real faces called real; "
                      "easy/mid/hard = share of fakes caught):")


def difficulty_table(runs: list[dict]) -> list[str]:
    rows: dict[str, dict[str, list[float]]] = {}
    for run in runs:
        for entry in run.get("by_difficulty", []):
            key = entry.get("difficulty")
            rows.setdefault(run["title"], {}).setdefault(key, []).append(entry.get("accuracy"))
    lines = ["| run | " + " | ".join(LEVELS) + " |", "|---|" + "---|" * len(LEVELS)]
    for title, by in rows.items():
        lines.append(f"| {title} | " + " | ".join(pct(by.get(k, [])) for k in LEVELS) + " |")
    return lines


# Runs trained under the report's leaky protocol and the same recipe split first.
LEAK_PAIRS = [("model2_2@bf16-CPU", "model2_2_leaky@bf16-CPU")]


def _at_level(run: dict, level: str) -> float | None:
    return next((d["accuracy"] for d in run.get("by_difficulty", []) if d.get("difficulty") == level), None)


def leak_table(runs: list[dict]) -> list[str]:
    """Honest against leaky, seed by seed, for the seeds both protocols were run with."""
    by_run = _by_run(runs)
    out = []
    for honest_name, leaky_name in LEAK_PAIRS:
        honest = {r["seed"]: r for r in by_run.get(honest_name, [])}
        leaky = {r["seed"]: r for r in by_run.get(leaky_name, [])}
        seeds = sorted(set(honest) & set(leaky))
        if not seeds:
            continue
        h, k = [honest[s] for s in seeds], [leaky[s] for s in seeds]
        out += [f"### {h[0]['title']}: split first against the report's leaky protocol", "",
                f"{h[0]['epochs']} epochs over the originals against {k[0]['epochs']} over the "
                "augmented copies (as many images seen). Each cell: split first / leaky; "
                f"{DIFFICULTY_CAPTION[:-1].lower()}.", "",
                "| seed | accuracy | ROC AUC | " + " | ".join(LEVELS) + " | leaked test items |",
                "|---|---|---|" + "---|" * len(LEVELS) + "---|"]
        rows = [(str(s), [a], [b]) for s, a, b in zip(seeds, h, k)] + [("all", h, k)]
        for label, a, b in rows:
            levels = " | ".join(f"{pct([_at_level(r, v) for r in a])} / {pct([_at_level(r, v) for r in b])}"
                                for v in LEVELS)
            out.append(
                f"| {label} | {pct([r['accuracy'] for r in a])} / {pct([r['accuracy'] for r in b])} "
                f"| {num([r['roc_auc'] for r in a])} / {num([r['roc_auc'] for r in b])} "
                f"| {levels} | {pct([r['leaked_fraction'] for r in b])} |")
        out.append("")
    return out


# The lessons' controls (notebooks 01-03a): each table changes one thing against a recipe.
LESSONS = [
    ("Model 2.1's collapse and its remedy (notebook 02)",
     "The report's recipe (Adam, lr 0.001) against a tenth of its learning rate, the same network "
     "and budget. A collapsed run answers one class for every image: its balanced accuracy is "
     "50 % and its ROC AUC 0.5.",
     ["model2_1@bf16-CPU", "model2_1_lr1e-4@bf16-CPU"]),
    ("Model 2.1 to 2.2, one change at a time (notebook 03a)",
     "Adam without augmentation (Model 2.1), AdaDelta at lr 0.1 without augmentation (the "
     "control), AdaDelta with the report's augmentation (Model 2.2): each row changes one thing.",
     ["model2_1@bf16-CPU", "model2_adadelta_noaug@bf16-CPU", "model2_2@bf16-CPU"]),
    ("The report's optimizer trials on Model 1 (notebook 01)",
     "Model 1 at its recipe's budget of 10 epochs; only the optimizer, or its weight decay, "
     "differs. \"weight norm\": the Euclidean norm of all the trained weights.",
     ["model1@bf16-CPU", "model1_sgd@bf16-CPU", "model1_adadelta@bf16-CPU",
      "model1_adam_l2@bf16-CPU", "model1_adamw@bf16-CPU"]),
]


def lessons_section(runs: list[dict]) -> list[str]:
    """The lessons' comparisons, from the combined runs (newest measurement of each seed)."""
    by_run = _by_run(runs)
    out = ["## The lessons' controls on real photographs", "",
           "Each table takes its rows from the runs above (the newest measurement of each seed); "
           "the comparison is made on validation, the test figures are measured once. Each file's "
           "section below gives its command.", ""]
    for title, caption, names in LESSONS:
        present = [n for n in names if n in by_run]
        if len(present) < 2:
            continue
        out += [f"### {title}", "", caption, "",
                "| run | seeds | epoch-1 training loss | best epoch of epochs trained | val accuracy | test accuracy "
                "| balanced accuracy | ROC AUC | weight norm |",
                "|---|---|---|---|---|---|---|---|---|"]
        for name in present:
            group = by_run[name]
            first = [r["train_loss_by_epoch"][0] for r in group if r.get("train_loss_by_epoch")]
            norm = [r["weight_norm"] for r in group if r.get("weight_norm") is not None]
            val = pct([r["val_accuracy"] for r in group]) if all(map(has_val, group)) else "n/a"
            out.append(
                f"| {group[0]['title']} | {len(group)} | {num(first) if first else 'n/a'} "
                f"| {', '.join(str(r.get('best_epoch')) for r in group)} of "
                f"{', '.join(str(len(r.get('val_accuracy_by_epoch') or []) or r['epochs']) for r in group)} "
                f"| {val} | {pct([r['accuracy'] for r in group])} "
                f"| {pct([r['balanced_accuracy'] for r in group])} | {num([r['roc_auc'] for r in group])} "
                f"| {num(norm, 1) if norm else 'n/a'} |")
        out.append("")
    return out if len(out) > 5 else []


HONEST_AIM = 0.70  # issue #19's aim: test accuracy over three seeds, no pretrained weights


def base_name(run: dict) -> str:
    """A run's name without the precision suffix with_precision_in_titles gives it."""
    return run["run"].split("@")[0]


def extra_choices(run: dict, runs: list[dict]) -> str | None:
    """What a honest-detection run's validation figure chose beyond the epoch (None: nothing)."""
    if run.get("kind") == "patch" and run.get("val_by_pooling"):
        return (f"pooling and threshold among {len(run['val_by_pooling'])} "
                f"({run['pooling']}@{run['threshold']:g})")
    if run.get("kind") == "ensemble" and base_name(run) == "ensemble":
        n = len({r["run"] for r in runs if r["seed"] == run["seed"] and r.get("kind") != "ensemble"})
        return f"members among {2 ** n - n - 1} subsets ({' + '.join(run['members'])})"
    return None


def honest_section(record: dict) -> list[str]:
    """How far honest detection goes: each attempt over its seeds, what validation chose, and
    the attempt chosen on validation (runs annotated with ``extra_choices``)."""
    runs = record["runs"]
    out = ["## How far honest detection goes (160x160 copy, canonical split, no pretrained weights)",
           ""] + header(record)
    out += [f"Attempts aimed at the edit rather than the face (`fakeface_lib.experiments.attempts`, notebook 06 "
            f"section 7): images {record.get('n_images')} (split {record.get('split_sizes')}); "
            f"full resolution {record.get('full_size')} px, patches {record.get('patch_size')} px; "
            f"mixed precision: {'bf16 autocast' if record.get('amp') else 'no (fp32)'}. Every choice "
            "is made on validation, and each run's test set is predicted once, its choices fixed. "
            "An image model's validation figure chose its epoch; a patch net's also chose the "
            "pooling and the threshold, the ensemble's also its members: the more a figure chose, "
            "the more it flatters, and \"val - test\" shows by how much. Mean ± standard "
            "deviation over training seeds.", "",
            "| attempt | seeds | chosen on validation, seed by seed | val accuracy | val - test "
            "| test accuracy | balanced accuracy | ROC AUC | with flip TTA: accuracy / AUC "
            "| train time / run |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for name, group in _by_run(runs).items():
        chosen = "; ".join(
            (f"epoch {r['best_epoch']}" if r.get("best_epoch") else "")
            + (f", {r['pooling']}@{r['threshold']:g}" if r.get("pooling") else "")
            + (" + ".join(r["members"]) if r.get("members") and base_name(r) == "ensemble" else "")
            + ("all, no choice" if base_name(r) == "ensemble_all" else "") for r in group)
        out.append(
            f"| {group[0]['title']} | {len(group)} | {chosen} | {pct([r['val_accuracy'] for r in group])} "
            f"| {num([r['val_accuracy'] - r['accuracy'] for r in group], 1, 100.0, ' pts')} "
            f"| {pct([r['accuracy'] for r in group])} | {pct([r['balanced_accuracy'] for r in group])} "
            f"| {num([r['roc_auc'] for r in group])} "
            f"| {pct([r['tta_accuracy'] for r in group])} / {num([r['tta_roc_auc'] for r in group])} "
            f"| {statistics.mean(r['train_seconds'] for r in group):.0f} s |")
    groups = _by_run(runs)
    seeds = max(len(g) for g in groups.values())
    complete = {n: g for n, g in groups.items() if len(g) == seeds}
    name, group = max(complete.items(), key=lambda item: (_mean(item[1], "val_accuracy"),
                                                          -_mean(item[1], "val_loss")))
    top_test = max(complete.values(), key=lambda g: _mean(g, "accuracy"))
    reached = [g[0]["title"] for g in complete.values() if _mean(g, "accuracy") >= HONEST_AIM]
    out += ["", f"**Chosen on validation among the attempts with all {seeds} seed(s): "
            f"{group[0]['title']}** (val accuracy {pct([r['val_accuracy'] for r in group])}); its "
            f"test accuracy {pct([r['accuracy'] for r in group])}, balanced "
            f"{pct([r['balanced_accuracy'] for r in group])}, ROC AUC {num([r['roc_auc'] for r in group])}. "
            + (f"The aim, {100 * HONEST_AIM:.0f} % test accuracy, is reached by: {', '.join(reached)}."
               if reached else
               f"The aim, {100 * HONEST_AIM:.0f} % test accuracy, is not reached: the highest mean test "
               f"accuracy of any attempt is {pct([r['accuracy'] for r in top_test])} "
               f"({top_test[0]['title']}), a measurement, not a choice."), ""]
    return out


def with_precision_in_titles(record: dict) -> dict:
    """Runs trained under bf16 autocast get their own row: never averaged with fp32 seeds."""
    if not record.get("amp"):
        return record
    device = record.get("machine", {}).get("device", "?")
    where = "CPU" if device == "cpu" else device
    runs = [{**r, "run": f"{r['run']}@bf16-{where}", "title": f"{r['title']} [bf16, {where}]"}
            for r in record["runs"]]
    return {**record, "runs": runs}


def real_series_section(record: dict, superseded: dict[tuple[str, int], str] | None = None) -> list[str]:
    """One file's runs; ``superseded``: (title, seed) -> the file with a newer run of it."""
    runs = record["runs"]
    out = ["## The series on real photographs (160x160 copy, canonical split)", ""] + header(record)
    out += [f"Images: {record.get('n_images')} (split {record.get('split_sizes')}); "
            f"mixed precision: {'bf16 autocast' if record.get('amp') else 'no (fp32)'}"
            f"{'; channels-last weights' if record.get('channels_last') else ''}; "
            "best-validation weights; positive class "
            "training_fake. Mean ± standard deviation over training seeds.", ""]
    out += series_table(runs) + ["", DIFFICULTY_CAPTION, ""]
    out += difficulty_table(runs) + [""]
    out += val_table(runs)
    if record.get("note"):
        out += [record["note"], ""]
    if superseded:
        by_file: dict[str, list[str]] = {}
        for (title, seed), name in superseded.items():
            by_file.setdefault(name, []).append(f"{title} seed {seed}")
        out += ["Measured again later, and counted in the combined tables from the newer file: "
                + "; ".join(f"{', '.join(what)} (`{name}`)" for name, what in sorted(by_file.items()))
                + ".", ""]
    if record.get("skipped"):
        out += ["Not run (time budget): " + ", ".join(record["skipped"]), ""]
    return out


def data_pipeline_section(record: dict) -> list[str]:
    f, setup = record["figures"], record.get("setup", {})
    out = ["## Data pipeline: plain ImageFolder + PIL against the decode-once cache", ""] + header(record)
    out += [f"{f['n_images']} JPEGs of {setup.get('image_px')}x{setup.get('image_px')} px, resized to "
            f"{setup.get('image_size')}, batch {setup.get('batch_size')}, torch threads {f['torch_threads']}.",
            "", "| | seconds | vs plain |", "|---|---|---|",
            f"| plain ImageFolder epoch (median) | {f['naive_epoch_median_seconds']:.2f} | 1x |",
            f"| cached, first epoch (decode + resize once, then iterate) | {f['first_epoch_seconds']:.2f} "
            f"| {f['first_epoch_vs_naive']:.2f}x the time |",
            f"| cached, later epochs (median) | {f['later_epoch_median_seconds']:.3f} "
            f"| {f['speedup_later_epoch_vs_naive']:.1f}x faster |", "",
            f"Cache: {f['cache_bytes_per_image']:,.0f} bytes per image (S*S*3 = {f['expected_bytes_per_image']:,}); "
            f"resident memory grew {f['rss_growth_per_image_bytes']:,.0f} bytes per image. "
            f"Augmentation on the fly: " + ", ".join(f"{k} {v:.1f} ms/image" for k, v in
                                                      f.get("augment_ms_per_image", {}).items()) + ".", ""]
    if record.get("note"):
        out += [record["note"], ""]
    return out


# Peak dense FP32 throughput (TFLOP/s) used to scale GPU timings to a T4, Colab's usual GPU.
PEAK_FP32 = {"H100": 67.0, "H200": 67.0, "A100": 19.5, "T4": 8.1}


def throughput_section(record: dict) -> list[str]:
    m = record.get("machine", {})
    device = m.get("device_name") or m.get("device", "cpu")
    bar = "progress bar on" if record.get("progress_bar", True) else "progress bar off"
    out = [f"## Training throughput on {device}: images/s, batch 32 ({bar})", ""] + header(record)
    peak = next((v for k, v in PEAK_FP32.items() if k in str(device)), None)
    lines = ["| model | px | AMP | bare loop img/s | train_one_epoch img/s | loop overhead | "
             "epoch of 1633 images" + (" | T4 estimate (epoch) |" if peak else " |"),
             "|---|---|---|---|---|---|---|" + ("---|" if peak else "")]
    for r in record["results"]:
        epoch = 1633 / r["train_one_epoch_images_per_s"]
        amp = (r.get("amp_dtype") or "yes") if r["amp"] else "no"
        row = (f"| {r['model']} | {r['image_size']} | {amp} | {r['bare_images_per_s']:,.0f} "
               f"| {r['train_one_epoch_images_per_s']:,.0f} | {r['overhead_percent']:+.1f} % | {epoch:.1f} s |")
        if peak:
            row += f" {epoch * peak / PEAK_FP32['T4']:.0f} s |"
        lines.append(row)
    out += lines + [""]
    if peak:
        out += [f"T4 estimate: the measured time scaled by the ratio of peak FP32 throughput "
                f"({peak} against {PEAK_FP32['T4']} TFLOP/s). A rough guide only: small models are "
                "limited by kernel launches rather than arithmetic, and cuDNN runs convolutions in "
                "TF32 on Hopper, so a real T4 may be slower still.", ""]
    return out


def make_demo_section(record: dict) -> list[str]:
    """One column of notebook times per labelled run (this CPU; as a CPU without AVX-512)."""
    runs = record.get("runs") or {"this CPU": record}
    out = ["## End-to-end: `make demo`", ""]
    for label, run in runs.items():
        size = run.get("run_folder_bytes")
        folder = f", run folder {size / 2**20:.0f} MiB" if size else ""
        machine = run.get("machine", {})
        out += [f"- {label}: total **{run['total_seconds']:.0f} s** (exit code {run['returncode']}"
                f"{folder}), {run.get('date', '?')}, {machine.get('cpu_model', '?')}"
                f" ({machine.get('cpu_isa', '?')}), {machine.get('cpus', '?')} cores; "
                f"command: `{run.get('command', '?')}`"]
    out += ["", "Environment already installed. Seconds per notebook:", "",
            "| notebook | " + " | ".join(runs) + " |", "|---|" + "---|" * len(runs)]
    names = dict.fromkeys(name for run in runs.values() for name in run.get("notebook_seconds", {}))
    for name in names:
        cells = [f"{run.get('notebook_seconds', {}).get(name, float('nan')):.0f}" for run in runs.values()]
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return out + [""]


def drive_budget_section(record: dict) -> list[str]:
    """Google Drive use on a simulated Colab, measured at demo sizes and worked out for the recipe."""
    demo, full = record["demo_smoke"], record["full_recipe"]
    out = ["## Google Drive use on Colab (simulated)", ""] + header(record)
    out += ["Every notebook run on a fresh machine with a stand-in `google.colab`; Drive is a folder "
            "whose every written byte counts, replaced and deleted versions included (Drive's Trash "
            "keeps them against the quota). Measured in smoke mode on the demo data with checkpoints "
            "on (Model 2 at its real 134 M parameters, kept on the runtime's disk by "
            "`checkpoint_plan`; in smoke mode notebook 03b's leak runs (notebook 03's, before it was split) use Model 1 as a stand-in, so "
            "their checkpoints went to Drive). The full recipe is worked out from it: results, "
            "predictions and half-precision weights as measured (their size hardly depends on the "
            "epochs), plus, for each run whose checkpoint goes to Drive (Model 1's two runs, "
            f"ResNet18's two), {record['drive_writes_per_run']} writes of `colab.checkpoint_size()` "
            "(weights, the optimizer's buffers and the best weights: an upper bound) whatever the "
            "epochs, and one of them left at the end. Model 2's checkpoints (all of notebooks 02, "
            f"03a and 03b at the recipe) exceed {record['drive_checkpoint_limit_mib']:.0f} MiB and never "
            "go to Drive.", "",
            "| notebook | demo, smoke: written (MiB) | full recipe: written (MiB) | full recipe: left (MiB) | "
            "runs checkpointed on Drive |", "|---|---|---|---|---|"]
    for name, row in full.items():
        out.append(f"| {name} | {demo['written_mib'].get(name, 0):.1f} | {row['written_mib']:.1f} | "
                   f"{row['left_mib']:.1f} | {', '.join(row['checkpointed_runs']) or '-'} |")
    total = record["full_recipe_total"]
    out += [f"| total | {demo['total_written_mib']:.1f} | {total['written_mib']:.1f} | "
            f"{total['left_mib']:.1f} | |", "",
            f"Budget: at most 2048 MiB written and 1024 MiB left over the series; the full recipe "
            f"writes {total['written_mib']:.0f} MiB and leaves {total['left_mib']:.0f} MiB. "
            "`tests/test_colab_simulation.py` checks the demo-size figures on every test run.", ""]
    return out


def data_wait_section(record: dict) -> list[str]:
    """Each notebook's training loader against its model: images per second of both, measured
    (the GPUs' from throughput_cuda.json), and the share of training time spent waiting."""
    out = ["## Data loading: how long training waits on each notebook's training loader", ""]
    out += header(record)
    out += ["Images per second of the training pipeline alone (one epoch, this machine's CPU) "
            "and of the model alone (`train_one_epoch` on batches in memory: this CPU measured "
            "here, the H100 measured by `bench_throughput.py`, the T4 estimated from it; "
            "*est.*: scaled by pixels or peak FP32, not measured). The device path is "
            "`make_loaders(device=...)` (DeviceBatches), the default on CUDA, here run on the "
            "CPU; on a GPU its CPU work is the per-image parameter draws (kernel launches not "
            "counted; its arithmetic runs on the GPU, not measured here). DataLoader workers are those `make_loaders` gave "
            "on CUDA before (`default_num_workers`).", "",
            "| notebook | px | augmentation | DataLoaders, no workers | DataLoaders, workers | "
            "device path on this CPU | device path's draws | model, this CPU | model, H100 "
            "float32 | model, H100 mixed | model, T4 float32 |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in record["rows"]:
        pipe, models = row["pipeline_images_per_s"], row["model_images_per_s"]
        rates = [f"{pipe['dataloader_no_workers']:,.0f}",
                 f"{pipe['dataloader_workers']:,.0f} ({pipe['num_workers']})",
                 f"{pipe['device_path_on_cpu']:,.0f}", f"{pipe['device_path_draws']:,.0f}"]
        rates += [f"{m['images_per_s']:,.1f}" + ("" if m["measured"] else " *est.*")
                  for m in (models[k] for k in ("this_cpu", "h100_float32", "h100_mixed",
                                                 "t4_float32"))]
        out.append(f"| {row['notebook']} | {row['image_size']} | {row['augment'] or 'none'} | "
                   + " | ".join(rates) + " |")
    out += ["", "Share of training time spent waiting for data: load / (load + compute) where "
            "they take turns (no workers; a CPU run), max(0, load - compute) / max(load, "
            "compute) where they overlap (workers; the device path's draws, queued ahead of the "
            "GPU). The device path's GPU time is not in it.", "",
            "| notebook | this CPU, DataLoaders | this CPU, device path | H100 float32, "
            "DataLoaders | H100 mixed, DataLoaders | H100 mixed, device path | T4 float32, "
            "DataLoaders | T4 float32, device path |", "|---|---|---|---|---|---|---|---|"]
    keys = ("this_cpu_dataloaders", "this_cpu_device_path", "h100_float32_dataloaders",
            "h100_mixed_dataloaders", "h100_mixed_device_path_draws", "t4_float32_dataloaders",
            "t4_float32_device_path_draws")
    for row in record["rows"]:
        out.append(f"| {row['notebook']} | "
                   + " | ".join(f"{100 * row['wait_share'][k]:.0f} %" for k in keys) + " |")
    return out + [""]


def gpu_series_section(record: dict) -> list[str]:
    """The notebook series at the full recipe on a lent GPU (bench_gpu_series.py via run_gpu.sh)."""
    m = record.get("machine", {})
    out = [f"## The series at the full recipe on a GPU ({m.get('device_name', '?')}, "
           f"torch {m.get('torch', '?')})", ""] + header(record)
    mode = "smoke mode" if record.get("smoke") else "the full recipe (every notebook's own EPOCHS)"
    out += [f"Each notebook as a student runs it on Colab ({mode}; fresh machine, simulated Drive, "
            "the 160 px copy as a Kaggle-layout zip). Busy share: the mean of nvidia-smi's "
            "utilization.gpu sampled every 0.5 s; peak memory: torch's max_memory_reserved.", "",
            "| notebook | status | wall (s) | GPU busy share | GPU peak reserved (MiB) | "
            "Drive written (MB) |", "|---|---|---|---|---|---|"]
    for nb in record["notebooks"]:
        if nb.get("wall_seconds") is None:
            out.append(f"| {nb['notebook']} | {nb['status']} | | | | |")
            continue
        busy, peak = nb.get("gpu_busy_share"), nb.get("gpu_peak_memory_reserved_bytes")
        out.append(f"| {nb['notebook']} | {nb['status']} | {nb['wall_seconds']:.0f} | "
                   f"{'n/a' if busy is None else f'{100 * busy:.0f} %'} | "
                   f"{'n/a' if peak is None else f'{peak / 2**20:,.0f}'} | "
                   f"{(nb.get('drive_bytes_written') or 0) / 1e6:.0f} |")
    if record.get("note"):
        out += ["", record["note"]]
    for name, error in record.get("failures", {}).items():
        out.append("")
        out.append(f"{name}: {error}")
    out += [""]
    return out


def test_suite_section(record: dict) -> list[str]:
    """`make test`'s pytest time, before and after a change, with its slowest phases."""
    out = ["## `make test`: pytest's time on 2 cores (install excluded)", "",
           f"- command: `{record.get('command', '?')}`", "",
           "| label | commit | date | wall (s) | summary | slowest phase |", "|---|---|---|---|---|---|"]
    for label, run in record["runs"].items():
        top = run["slowest"][0] if run.get("slowest") else None
        slowest = f"{top['seconds']:.0f} s {top['phase']} {top['test']}" if top else ""
        out.append(f"| {label} | {run.get('commit', '?')} | {run.get('date', '?')[:16]} | "
                   f"{run['wall_seconds']:.0f} | {run['summary']} | {slowest} |")
    out += [""]
    for label, run in record["runs"].items():
        out += [f"Slowest phases, {label} (`{run['command']}`):", ""]
        out += [f"- {r['seconds']:.1f} s {r['phase']} `{r['test']}`" for r in run["slowest"][:10]]
        if run.get("note"):
            out += ["", run["note"]]
        out += [""]
    return out


def course_map_section(rows: list[dict]) -> list[str]:
    """The README's course map and how its T4 times are estimated (benchmarks/course_map.py)."""
    out = ["## Course map: time on a T4 (estimated) and Drive use per notebook", "",
           "- command: `python benchmarks/course_map.py` (writes `results/course_map.json`, the "
           "README's course map and each notebook's header)", "",
           "No T4 was measured. Each time is the training images the notebook's runs process at the "
           "full recipe, divided by the H100 throughput above scaled to a T4 by peak FP32 (8.1 "
           "against 67.0 TFLOP/s) and by pixels for ResNet18 at 224 px, plus Model 2's checkpoint "
           "writes (2.2 GB at an assumed 200 MB/s) and an assumed 3 minutes per notebook for the "
           "install, the download and the image cache; rounded up to 5 minutes. Drive: the "
           "full-recipe figure of the section above.", "",
           "| notebook | GPU | T4 minutes (estimate) | Drive written (MB) |", "|---|---|---|---|"]
    out += [f"| {r['notebook']} | {r['gpu']} | {r['t4_minutes']} | {r['drive_mb']} |" for r in rows]
    return out + [""]


def batch_size_section(record: dict) -> list[str]:
    """Model 2.1's recipe at the report's batch against the series' (bench_batch_size.py): each
    epoch measured, over seeds, then the first epoch step by step."""
    runs, epochs = record["runs"], record["epochs_run"]
    seeds = sorted({r["seed"] for r in runs})
    out = ["## Model 2.1's recipe at the report's batch (96) against the series' (32): the first epochs",
           ""] + header(record)
    done = "; ".join(f"batch {r['batch_size']} seed {r['seed']}: {len(r['epochs'])} of {r.get('epochs_planned', epochs)}"
                     for r in runs)
    out += [f"Measured: the first epochs of the recipe's {record['recipe']['num_epochs']} (Adam, lr "
            f"{record['recipe']['lr']:g}), epochs measured per run: {done}; images "
            f"{record['split_sizes']}; mixed precision: {'bf16 autocast' if record.get('amp') else 'no (fp32)'}. "
            "Validation after each epoch, with the weights of that epoch (no best-epoch choice, no test "
            "set); \"collapsed\": one answer for 99 % or more of the validation images and flat "
            "probabilities or no fc1 unit alive (`diagnose_collapse`). Mean ± standard deviation over seeds.",
            "", "| batch | steps an epoch | seeds | epoch | training loss | training accuracy | val accuracy "
            "| val images given one answer | fc1 units silent on val | runs collapsed |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    by_batch: dict[int, list[dict]] = {}
    for run in runs:
        by_batch.setdefault(run["batch_size"], []).append(run)
    for batch, group in sorted(by_batch.items()):
        for epoch in range(1, epochs + 1):
            rows = [r["epochs"][epoch - 1] for r in group if len(r["epochs"]) >= epoch]
            out.append(f"| {batch} | {group[0]['steps_per_epoch']} | {len(rows)} | {epoch} "
                       f"| {num([r['train_loss'] for r in rows])} | {pct([r['train_acc'] for r in rows])} "
                       f"| {pct([r['val_acc'] for r in rows])} | {pct([r['val_one_class_share'] for r in rows])} "
                       f"| {pct([r['fc1_dead_on_val'] for r in rows])} | {sum(r['collapsed'] for r in rows)} of {len(rows)} |")
    out += ["", "The first epoch step by step (`trace_steps`): the update-to-weight ratio (std of a "
            "step's update over the std of the weight) of fc1 and of the four convolutions (median over "
            "the epoch's steps), and the share of fc1 units silent for every image of the step's batch:", "",
            "| batch | fc1 ratio, step 1 | fc1 ratio, median | conv1-4 ratio, median | fc1 silent: step 1 "
            "| step 2 | last step | highest |", "|---|---|---|---|---|---|---|---|"]
    for batch, group in sorted(by_batch.items()):
        traces = [r["trace"] for r in group]
        convs = [statistics.median(t[f"ratio_conv{i}"]) for t in traces for i in range(1, 5)]
        out.append(f"| {batch} | {num([t['ratio_fc1'][0] for t in traces], 2)} "
                   f"| {num([statistics.median(t['ratio_fc1']) for t in traces], 3)} "
                   f"| {min(convs):.1e} to {max(convs):.1e} | {pct([t['fc1_dead'][0] for t in traces])} "
                   f"| {pct([t['fc1_dead'][1] if len(t['fc1_dead']) > 1 else None for t in traces])} | {pct([t['fc1_dead'][-1] for t in traces])} "
                   f"| {pct([max(t['fc1_dead']) for t in traces])} |")
    recipes = [r for r in runs if r["seed"] == seeds[0] and r["batch_size"] == min(by_batch)]
    recipes += record.get("recipe_runs", [])
    if len(recipes) > 1:
        out += ["", f"The first epoch of three recipes, seed {seeds[0]}, batch {min(by_batch)}, from the same "
                "initial weights and batches (fc1 silent on the batch: the step's batch; on val: the "
                "validation images after the epoch):", "",
                "| optimizer, lr | fc1 ratio, step 1 | fc1 ratio, median | conv1-4 ratio, median "
                "| fc1 silent on the batch: last step / highest | training loss | fc1 silent on val "
                "| val images given one answer |", "|---|---|---|---|---|---|---|---|"]
        for r in recipes:
            t, first = r["trace"], r["epochs"][0]
            convs = [statistics.median(t[f"ratio_conv{i}"]) for i in range(1, 5)]
            out.append(f"| {r.get('optimizer', 'adam')}, {r.get('lr', record['recipe']['lr']):g} "
                       f"| {t['ratio_fc1'][0]:.2e} | {statistics.median(t['ratio_fc1']):.2e} "
                       f"| {min(convs):.1e} to {max(convs):.1e} | {pct([t['fc1_dead'][-1]])} / {pct([max(t['fc1_dead'])])} "
                       f"| {first['train_loss']:.3f} | {pct([first['fc1_dead_on_val']])} "
                       f"| {pct([first['val_one_class_share']])} |")
    if record.get("note"):
        out += ["", record["note"]]
    return out + [""]


def leak_readings_section(record: dict) -> list[str]:
    """bench_leak_readings.py: the report's leaky protocol with copies drawn once or at every
    access, each against the same copies split by source image; mean ± std over seeds."""
    runs, seeds = record["runs"], sorted({r["seed"] for r in record["runs"]})
    out = ["## The report's leak in both readings: copies drawn once or at every access", ""]
    out += header(record)
    out += [f"Model 1 with {record['recipe']}, {runs[0]['epochs']} "
            f"epoch(s) over 4 copies of each of {record['n_images']} photographs (preset "
            f"\"{record['augment']}\"), copies split with seed {record['split_seed']}; "
            f"{len(seeds)} training seed(s): {', '.join(map(str, seeds))}. \"fixed\": each copy one "
            "seeded draw made once; \"fresh\": a new draw at every access (a transform attached to "
            "the dataset, as notebook 03b's lines). \"leaky\": the report's random split of the "
            "copies; \"by source\": the same copies, every copy in its photograph's canonical split. "
            "The leak is the gap between the two, seed by seed.", "",
            "| copies drawn | protocol | seeds | test accuracy | balanced accuracy | ROC AUC "
            "| majority baseline | last training accuracy | leaked test items | train time / run |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for draws in ("fixed", "fresh"):
        for protocol in ("leaky", "by_source"):
            group = [r for r in runs if r["draws"] == draws and r["protocol"] == protocol]
            if group:
                out.append(f"| {draws} | {protocol.replace('_', ' ')} | {len(group)} "
                           f"| {pct([r['accuracy'] for r in group])} "
                           f"| {pct([r['balanced_accuracy'] for r in group])} "
                           f"| {num([r['roc_auc'] for r in group])} "
                           f"| {pct([r['majority_baseline'] for r in group])} "
                           f"| {pct([r['train_accuracy_by_epoch'][-1] for r in group])} "
                           f"| {pct([r['leaked_fraction'] for r in group])} "
                           f"| {statistics.mean(r['train_seconds'] for r in group):.0f} s |")
    out += ["", "The leak, leaky minus by source (points of test accuracy / of ROC AUC), seed by seed:", "",
            "| copies drawn | " + " | ".join(f"seed {s}" for s in seeds) + " | mean ± std |",
            "|---|" + "---|" * (len(seeds) + 1)]
    for draws in ("fixed", "fresh"):
        pairs = {r["seed"]: r for r in runs if r["draws"] == draws and r["protocol"] == "leaky"}
        honest = {r["seed"]: r for r in runs if r["draws"] == draws and r["protocol"] == "by_source"}
        both = [s for s in seeds if s in pairs and s in honest]
        gaps = {s: (pairs[s]["accuracy"] - honest[s]["accuracy"], pairs[s]["roc_auc"] - honest[s]["roc_auc"])
                for s in both}
        if gaps:
            cells = [f"{100 * gaps[s][0]:+.1f} / {gaps[s][1]:+.3f}" if s in gaps else "n/a" for s in seeds]
            out.append(f"| {draws} | " + " | ".join(cells) + f" | {num([100 * g[0] for g in gaps.values()], 1)}"
                       f" / {num([g[1] for g in gaps.values()])} |")
    loads = [r["load_average_after"][0] for r in runs if r.get("load_average_after")]
    if loads:
        out += ["", f"Load average after each run: {min(loads):.1f} to {max(loads):.1f} on "
                f"{record['machine'].get('cpus')} CPUs (above that, the CPU was shared: times are not "
                "comparable with other sections)."]
    if record.get("skipped"):
        out += ["", "Not run: " + "; ".join(record["skipped"]) + "."]
    return out + [""]


def leak_readings_section(record: dict) -> list[str]:
    """bench_leak_readings.py: the report's leaky protocol with copies drawn once or at every
    access, each against the same copies split by source image; mean ± std over seeds."""
    runs, seeds = record["runs"], sorted({r["seed"] for r in record["runs"]})
    out = ["## The report's leak in both readings: copies drawn once or at every access", ""]
    out += header(record)
    out += [f"Model 1 with {record['recipe']}, {runs[0]['epochs']} "
            f"epoch(s) over 4 copies of each of {record['n_images']} photographs (preset "
            f"\"{record['augment']}\"), copies split with seed {record['split_seed']}; "
            f"{len(seeds)} training seed(s): {', '.join(map(str, seeds))}. \"fixed\": each copy one "
            "seeded draw made once; \"fresh\": a new draw at every access (a transform attached to "
            "the dataset, as notebook 03b's lines). \"leaky\": the report's random split of the "
            "copies; \"by source\": the same copies, every copy in its photograph's canonical split. "
            "The leak is the gap between the two, seed by seed. A run whose balanced accuracy is "
            "50 % answered one class for every test item.", "",
            "| copies drawn | protocol | seeds | test items | test accuracy | balanced accuracy | ROC AUC "
            "| majority baseline | last training accuracy | leaked test items | train time / run |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for draws in ("fixed", "fresh"):
        for protocol in ("leaky", "by_source"):
            group = [r for r in runs if r["draws"] == draws and r["protocol"] == protocol]
            if group:
                out.append(f"| {draws} | {protocol.replace('_', ' ')} | {len(group)} | {group[0]['n_test']} "
                           f"| {pct([r['accuracy'] for r in group])} "
                           f"| {pct([r['balanced_accuracy'] for r in group])} "
                           f"| {num([r['roc_auc'] for r in group])} "
                           f"| {pct([r['majority_baseline'] for r in group])} "
                           f"| {pct([r['train_accuracy_by_epoch'][-1] for r in group])} "
                           f"| {pct([r['leaked_fraction'] for r in group])} "
                           f"| {statistics.mean(r['train_seconds'] for r in group):.0f} s |")
    out += ["", "The leak, leaky minus by source (points of test accuracy / of ROC AUC), seed by seed:", "",
            "| copies drawn | " + " | ".join(f"seed {s}" for s in seeds) + " | mean ± std |",
            "|---|" + "---|" * (len(seeds) + 1)]
    for draws in ("fixed", "fresh"):
        pairs = {r["seed"]: r for r in runs if r["draws"] == draws and r["protocol"] == "leaky"}
        honest = {r["seed"]: r for r in runs if r["draws"] == draws and r["protocol"] == "by_source"}
        both = [s for s in seeds if s in pairs and s in honest]
        gaps = {s: (pairs[s]["accuracy"] - honest[s]["accuracy"], pairs[s]["roc_auc"] - honest[s]["roc_auc"])
                for s in both}
        if gaps:
            cells = [f"{100 * gaps[s][0]:+.1f} / {gaps[s][1]:+.3f}" if s in gaps else "n/a" for s in seeds]
            out.append(f"| {draws} | " + " | ".join(cells) + f" | {num([100 * g[0] for g in gaps.values()], 1)}"
                       f" / {num([g[1] for g in gaps.values()])} |")
    loads = [r["load_average_after"][0] for r in runs if r.get("load_average_after")]
    if loads:
        out += ["", f"Load average after each run: {min(loads):.1f} to {max(loads):.1f} on "
                f"{record['machine'].get('cpus')} CPUs (above that, the CPU was shared: times are not "
                "comparable with other sections)."]
    if record.get("skipped"):
        out += ["", "Not run: " + "; ".join(record["skipped"]) + "."]
    return out + [""]


def generic_section(name: str, record: dict) -> list[str]:
    out = [f"## {record.get('benchmark', name)}", ""] + header(record)
    figures = {k: v for k, v in record.items() if k not in ("benchmark", "command", "date", "machine")}
    out += ["```json", json.dumps(figures, indent=1, default=str)[:6000], "```", ""]
    return out


def is_real_series(record: dict) -> bool:
    return record.get("benchmark") == "real_series" and bool(record.get("runs"))


def newest_measurements(records: list[tuple[Path, dict]]) -> dict[tuple[str, int], str]:
    """(run, seed) -> the file holding its newest measurement (by the file's date, then name).

    A recipe and seed measured again (say, rerun to record validation figures) counts once in
    the combined tables and the choice: the newer run; the older one stays in its own section.
    """
    newest: dict[tuple[str, int], tuple[str, str]] = {}
    for path, record in records:
        if is_real_series(record):
            for run in record["runs"]:
                key, here = (run["run"], run["seed"]), (record.get("date", ""), path.name)
                newest[key] = max(newest.get(key, here), here)
    return {key: name for key, (_, name) in newest.items()}


def main() -> int:
    sections = ["# Benchmark results", "",
                "Generated by `python benchmarks/make_results_md.py` from the JSON files in "
                "`benchmarks/results/`; each section names the command that reproduces it.", ""]
    real_runs: list[dict] = []
    dates: dict[str, str] = {}  # run name -> the date of the file that holds it
    # The series' recipes first, then the attempts to improve on them.
    paths = sorted(RESULTS.glob("*.json"), key=lambda p: ("attempts" in p.stem, p.stem))
    records = [(path, json.loads(path.read_text())) for path in paths]
    # course_map.json is a list (course_map.py's rows), no benchmark record.
    course = [r for path, r in records if path.stem == "course_map" and isinstance(r, list)]
    records = [(path, r) for path, r in records if isinstance(r, dict)]
    records = [(path, with_precision_in_titles(r)
                if is_real_series(r) or r.get("benchmark") == "honest_detection" else r)
               for path, r in records]
    newest = newest_measurements(records)
    for path, record in records:
        if is_real_series(record):
            kept = [r for r in record["runs"] if newest[(r["run"], r["seed"])] == path.name]
            sections += real_series_section(record, superseded={
                (r["title"], r["seed"]): newest[(r["run"], r["seed"])]
                for r in record["runs"] if r not in kept})
            real_runs += kept
            for run in kept:
                dates.setdefault(run["run"], record.get("date", ""))
        elif record.get("benchmark") == "honest_detection" and record.get("runs"):
            for run in record["runs"]:
                run["extra_choices"] = extra_choices(run, record["runs"])
            sections += honest_section(record)
            real_runs += record["runs"]  # the same split and validation set: they compete too
            for run in record["runs"]:
                dates.setdefault(run["run"], record.get("date", ""))
        elif record.get("benchmark") == "data_pipeline":
            sections += data_pipeline_section(record)
        elif record.get("benchmark") == "make_demo":
            sections += make_demo_section(record)
        elif record.get("benchmark") == "throughput":
            sections += throughput_section(record)
        elif record.get("benchmark") == "drive_budget":
            sections += drive_budget_section(record)
        elif record.get("benchmark") == "data_wait":
            sections += data_wait_section(record)
        elif record.get("benchmark") == "test_suite" and record.get("runs"):
            sections += test_suite_section(record)
        elif record.get("benchmark") == "batch_size" and record.get("runs"):
            sections += batch_size_section(record)
        elif record.get("benchmark") == "leak_readings" and record.get("runs"):
            sections += leak_readings_section(record)
        elif record.get("benchmark") == "leak_readings" and record.get("runs"):
            sections += leak_readings_section(record)
        elif record.get("benchmark") == "gpu_series" and record.get("notebooks"):
            sections += gpu_series_section(record)
        else:
            sections += generic_section(path.stem, record)
    if course:
        sections += course_map_section(course[0])
    readme_rows: list[str] = []
    if real_runs:
        combined, best = series_table(real_runs), best_leak_free(real_runs, dates)
        readme_rows = combined + [""] + best
        sections[4:4] = (["## Best leak-free result", "", CHOICE_RULE, ""] + best
                         + ["## All runs on real photographs, seeds combined", "",
                            "Every run below, one row per recipe (mean ± standard deviation over "
                            "seeds); the sections after this one give each file's command.", ""]
                         + combined + ["", DIFFICULTY_CAPTION, ""] + difficulty_table(real_runs)
                         + [""] + leak_table(real_runs) + lessons_section(real_runs))
    (HERE / "results.md").write_text("\n".join(sections))
    if readme_rows and README.exists():
        text = README.read_text()
        start, end = MARKERS
        if start in text and end in text:
            table = "\n".join(readme_rows).rstrip()
            text = re.sub(re.escape(start) + ".*?" + re.escape(end),
                          lambda _: f"{start}\n{table}\n{end}", text, flags=re.S)
            README.write_text(text)
    print(f"wrote {HERE / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
