"""fakeface_lib: data, models, training and evaluation for the fakeface notebook series.

The notebooks import what they use from the package itself (``from fakeface_lib import fit``):
the public API below. Importing the package is cheap; each name loads its submodule (and
torch) when it is first used.
"""

__version__ = "0.2.0"

CLASS_NAMES = ("training_fake", "training_real")  # ImageFolder order: fake = 0, real = 1
REGIONS = ("left_eye", "right_eye", "nose", "mouth")  # order of the digits in a fake's code
DIFFICULTIES = ("easy", "mid", "hard")
GITHUB_REPO = "fakeface/fakeface"  # where the Colab badges and the Colab install point
RELEASE = "v0.2.0"  # the git tag both point at: Colab runs notebooks and library of one release
INSTALL_SPEC = f"fakeface @ git+https://github.com/{GITHUB_REPO}@{RELEASE}"  # each install cell


def colab_url(notebook_name: str) -> str:
    """The "Open in Colab" URL of ``notebooks/<notebook_name>`` at RELEASE."""
    return (f"https://colab.research.google.com/github/{GITHUB_REPO}/blob/{RELEASE}"
            f"/notebooks/{notebook_name}")


# The public API: everything a notebook needs, importable from the package itself
# (``from fakeface_lib import fit, make_loaders``). Each name loads its module on first use, so
# ``import fakeface_lib`` stays cheap (no torch) for the runner and the install check.
_API = {
    "colab": ("checkpoint_plan", "in_colab", "results_dir"),
    "config": ("MODEL1_RECIPE", "MODEL2_1_RECIPE", "MODEL2_2_RECIPE", "RECIPES", "TrainConfig"),
    "data": ("canonical_split", "index_dataset", "split_dataset"),
    "diagnostics": ("collapse_verdict", "diagnose_collapse", "first_step_effect"),
    "download": ("download_dataset",),
    "duplicates": ("find_duplicates", "leak_report"),
    "ensemble": ("average_predictions", "choose_ensemble"),
    "evaluation": ("by_difficulty", "by_region", "compute_metrics", "majority_baseline", "predict",
                   "roc_points"),
    "explain": ("attention_on_regions", "gradcam_maps", "predict_image"),
    "honest": ("ATTEMPTS", "IMAGENET_ATTEMPT", "attempts_table", "full_resolution", "patch_side",
               "plot_attempts", "run_attempt"),
    "leaky": ("cache_sources", "leaked_fraction", "make_copies", "make_leaky_loaders",
              "report_leaky_split"),
    "loaders": ("FACE_CROP", "FaceDataset", "load_image", "make_loaders"),
    "models": ("INPUT_SIZE", "Model1", "Model2", "build_model", "build_resnet18",
               "resnet18_param_groups", "summary_table"),
    "notebook": ("accuracy_interval", "load_series_data", "setup_notebook", "smoke_subset",
                 "summarize_metrics"),
    "plots": ("plot_confusion_matrix", "plot_gradcam", "plot_histories", "plot_history",
              "plot_image_grid", "plot_predictions", "plot_roc", "plot_samples", "plot_test_summary"),
    "quiz": ("draw_quiz", "format_scores", "load_answers", "model_answers", "paired_comparison",
             "plot_scores", "pool_answers", "quiz_size", "quiz_summary", "record_answers",
             "save_answers", "score", "simulate_answers"),
    "quiz_widget": ("QuizWidget",),
    "pretrained": ("load_resnet18_or_fallback", "resnet18_weights_or_none"),
    "regions": ("edited_boxes", "region_boxes"),
    "report_numbers": ("REPORT_RESULTS", "compare_with_report"),
    "results": ("choose_best", "data_label", "load_run_weights", "load_runs", "results_table",
                "save_run", "save_summary"),
    "splitting": ("CANONICAL_MAX_DISTANCE",),
    "training": ("evaluate", "fit", "format_epoch_line", "make_optimizer", "train_one_epoch"),
    "transforms": ("IMAGENET_MEAN", "IMAGENET_STD", "MILD_BLUR_KERNEL", "MILD_BLUR_SIGMA",
                   "REPORT_BLUR_KERNEL", "REPORT_BLUR_SIGMA", "blur_spread", "denormalize",
                   "eval_transform", "mild_augmentation", "report_augmentation"),
    "utils": ("count_parameters", "seed_everything"),
}
_MODULE_OF = {name: module for module, names in _API.items() for name in names}


def __getattr__(name: str):
    """Load a public name from its module on first use (PEP 562)."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_MODULE_OF))


__all__ = ["__version__", "CLASS_NAMES", "REGIONS", "DIFFICULTIES", "GITHUB_REPO", "RELEASE",
           "INSTALL_SPEC", "colab_url", *sorted(_MODULE_OF)]
