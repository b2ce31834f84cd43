"""The course map: per notebook, what it teaches, whether it needs a GPU, its time on a T4 and its
Drive use; written to benchmarks/results/course_map.json, README.md and each notebook's header.

T4 times are estimates (no T4 measured): the training images each notebook's runs process at the
full recipe, divided by the H100 throughput measured by bench_throughput.py scaled to a T4 by peak
FP32 (8.1 against 67.0 TFLOP/s) and by pixel count for ResNet18's 224 px, plus Model 2's
checkpoint writes (2.2 GB at an assumed 200 MB/s) and an assumed SETUP_MINUTES per notebook for
the install, the download and the image cache. Drive use: bench_drive_budget.py's full-recipe
figure (bytes written, replaced versions included); for a notebook that record does not hold yet,
the figure in DRIVE_MB_NOT_MEASURED.

    python benchmarks/course_map.py
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
T4_OVER_H100 = 8.1 / 67.0
SETUP_MINUTES = 3  # install, Kaggle download, decoding the images into the cache (assumed)
TRAIN_IMAGES, COPIES_TRAIN = 1633, 6531  # the canonical split's training set; the leaky 4x copies
CHECKPOINT_SECONDS = 2.2e9 / 200e6  # one Model 2 checkpoint to the runtime's disk
# notebook: (learning goals, GPU, [(model, px, epochs, images per epoch)], Model 2 checkpoint writes)
# (02: the recipe, its remedy and the recipe at a batch of 96, 20 epochs each with a checkpoint
# every 4 epochs, and trace_steps' first epoch of three recipes; 03a: Model 2.2, its control and the
# strong blur, 30 epochs each with a checkpoint every 5 epochs; 03b: the two runs on the copies, 8
# epochs each, the budget of one 03a run, with a checkpoint at epochs 5 and 8)
NOTEBOOKS = {
    "00_preprocessing": ("Get and look at the data, split it without leaks (near-duplicates), normalise, cache",
                         "no", [], 0),
    "01_model1": ("A first CNN layer by layer, the training loop by hand, honest metrics, the optimizer trials",
                  "recommended", [("model1", 128, 10, TRAIN_IMAGES)] * 6, 0),
    "02_model2_1": ("A deeper CNN (batch norm, dropout, 134 M parameters): a collapse told from overfitting, and fixed",
                    "yes", [("model2", 128, 20, TRAIN_IMAGES)] * 3 + [("model2", 128, 1, TRAIN_IMAGES)] * 3, 15),
    "03a_model2_2_augmentation": ("Data augmentation against its control (one change at a time), and what a blur does to an edit",
                                  "yes", [("model2", 128, 30, TRAIN_IMAGES)] * 3, 18),
    "03b_the_leak": ("The report's headline traced to a leak: augment first, split second, rebuilt and measured",
                     "yes", [("model2", 128, 8, COPIES_TRAIN)] * 2, 4),
    "04_resnet18_finetuning": ("Transfer learning: feature extraction against fine-tuning",
                               "yes", [("resnet18", 224, 10, TRAIN_IMAGES), ("resnet18", 224, 10, TRAIN_IMAGES)], 0),
    "05_results_and_explanations": ("Every model compared, Grad-CAM over the edited regions, your own image",
                                    "recommended", [], 0),
    # The quiz is the students' time (not counted). Section 7's attempts on the 600 px originals:
    # Model 1 at 128 and twice on a WINDOW of 320 px, and two patch nets on 4 patches of 180 px
    # (PATCH_FRACTION 0.3 of 600 px, no resampling: the pixels of one 360 px image; the patch net
    # is smaller than Model 1, so this is generous).
    "06_spot_the_fake": ("You against the network on the same test faces; how far honest detection goes",
                         "recommended", [("model1", 128, 10, TRAIN_IMAGES), ("model1", 320, 10, TRAIN_IMAGES),
                                         ("model1", 320, 10, TRAIN_IMAGES), ("model1", 360, 10, TRAIN_IMAGES),
                                         ("model1", 360, 10, TRAIN_IMAGES)], 0),
}
# Drive use of notebooks bench_drive_budget.py has not measured yet (rerun it to replace these):
# notebook 06 writes one answers CSV (about 1.2 kB for 18 faces in a smoke run), a 0.4 kB summary,
# and section 7's saved predictions: in a smoke run about 4.2 kB per frame of 25 images (about 165
# bytes an image), four frames per attempt; on the 204-205 images of a real split, five attempts:
# 5 x 4 x 205 x 165 B = 0.7 MB, counted as 1 MB for Drive's longer paths and the histories.
# Notebooks 03a and 03b were one notebook, 03, when bench_drive_budget.py measured it: 0.03 MiB
# written at the full recipe (results only: Model 2's checkpoints stay on the runtime's disk);
# each half writes part of that, under 1 MB.
DRIVE_MB_NOT_MEASURED = {"03a_model2_2_augmentation": 0.0, "03b_the_leak": 0.0, "06_spot_the_fake": 1.0}
START, END = "<!-- course-map:start -->", "<!-- course-map:end -->"


def t4_images_per_second() -> dict[str, float]:
    data = json.loads((RESULTS / "throughput_cuda.json").read_text())
    return {r["model"]: r["train_one_epoch_images_per_s"] * T4_OVER_H100
            for r in data["results"] if not r["amp"] and r["image_size"] == 128}


def course_map() -> list[dict]:
    speed = t4_images_per_second()
    drive = json.loads((RESULTS / "drive_budget.json").read_text())["full_recipe"]
    rows = []
    for name, (goals, gpu, runs, writes) in NOTEBOOKS.items():
        seconds = sum(epochs * images / (speed[model] * (128 / px) ** 2) for model, px, epochs, images in runs)
        minutes = SETUP_MINUTES + (seconds + writes * CHECKPOINT_SECONDS) / 60
        rows.append({"notebook": name, "goals": goals, "gpu": gpu,
                     "t4_minutes": 5 * math.ceil(minutes / 5),
                     "drive_mb": round(drive[name]["written_mib"] * 2**20 / 1e6) if name in drive
                     else round(DRIVE_MB_NOT_MEASURED[name])})
    return rows


def drive_text(mb: int) -> str:
    return "under 1 MB" if mb < 1 else f"about {mb} MB"


def header_line(row: dict) -> str:
    return (f"**Plan your class:** about {row['t4_minutes']} min on a T4 at the full recipe (an estimate) · "
            f"GPU: {row['gpu']} · Drive: {drive_text(row['drive_mb'])} written. On Colab it asks once for "
            "access to your Google Drive, where it keeps results (and small checkpoints) for later "
            "notebooks; if you decline, they stay on this runtime, and notebook 05 trains stand-ins "
            "for what it cannot find.")


def readme_table(rows: list[dict]) -> str:
    lines = ["| | notebook | learning goals | GPU | time on a T4 (estimate) | Drive written |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        number, _ = row["notebook"].split("_", 1)
        lines.append(f"| {number} | `{row['notebook']}.ipynb` | {row['goals']} | {row['gpu']} | "
                     f"about {row['t4_minutes']} min | {drive_text(row['drive_mb'])} |")
    total = sum(r["t4_minutes"] for r in rows), sum(r["drive_mb"] for r in rows)
    lines.append(f"| | the series | | | about {total[0]} min | {drive_text(total[1])} |")
    return "\n".join(lines)


def write_headers(rows: list[dict]) -> None:
    for row in rows:
        path = ROOT / "notebooks" / f"{row['notebook']}.ipynb"
        nb = nbformat.read(path, as_version=4)
        first = nb.cells[0]
        kept = [ln for ln in first.source.split("\n") if not ln.startswith("**Plan your class:**")]
        text = "\n".join(kept).rstrip("\n")
        first.source = text + "\n\n" + header_line(row)
        nbformat.write(nb, path)


def main() -> None:
    rows = course_map()
    (RESULTS / "course_map.json").write_text(json.dumps(rows, indent=1) + "\n")
    readme = ROOT / "README.md"
    text = readme.read_text()
    block = f"{START}\n{readme_table(rows)}\n{END}"
    text = re.sub(re.escape(START) + ".*?" + re.escape(END), block, text, flags=re.S) \
        if START in text else text
    readme.write_text(text)
    write_headers(rows)
    print(readme_table(rows))


if __name__ == "__main__":
    main()
