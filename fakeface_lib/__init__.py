"""fakeface_lib: the core path the notebooks walk, one import away (``from fakeface_lib import fit``).

The package's folders follow the course: ``data/`` (index, splits, download, transforms,
loaders), ``models/`` (the report's CNNs, ResNet18), ``training/`` (the loop notebook 01 writes
out, fit(), checkpoints), ``evaluation/`` (prediction frames, metrics, saved runs, diagnostics,
explanations), ``plots``, ``setup`` (a notebook's first cell) and ``colab`` (where things are
saved). Chapter material is imported from its own module in the notebook that teaches it:
``experiments/`` (the leak of notebook 03b, the attempts of notebook 06), ``quiz/``, and the
chapter-level parts of the subpackages. The notebook runner and its CLI live apart, in
``fakeface_lib.runner`` (``python -m fakeface_lib.runner run``).

Each name below has one address, its defining module; this root only re-exports it. The root is
lazy: ``import fakeface_lib`` loads no torch (the runner and the Colab install check import it
in a fraction of a second), and a name loads its module on first use (PEP 562). The
``TYPE_CHECKING`` block holds the very same imports, written out, so an editor's "go to
definition" and a reader land on the definition; tests/test_import_graph.py checks that the
block and the lazy table agree.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

__version__ = "0.2.0"

if TYPE_CHECKING:
    from fakeface_lib.config import (
        CLASS_NAMES, DIFFICULTIES, MODEL1_RECIPE, MODEL2_1_RECIPE, MODEL2_2_RECIPE, RECIPES,
        REGIONS, TrainConfig,
    )
    from fakeface_lib.utils import count_parameters, seed_everything
    from fakeface_lib.colab import checkpoint_plan, in_colab, results_dir
    from fakeface_lib.setup import load_series_data, setup_notebook
    from fakeface_lib.data.download import download_dataset
    from fakeface_lib.data.index import index_dataset
    from fakeface_lib.data.splitting import canonical_split, split_dataset
    from fakeface_lib.data.transforms import (
        denormalize, eval_transform, IMAGENET_MEAN, IMAGENET_STD,
    )
    from fakeface_lib.data.loaders import FaceDataset, make_loaders
    from fakeface_lib.models.cnn import build_model, Model1, Model2, summary_table
    from fakeface_lib.models.resnet import build_resnet18
    from fakeface_lib.models.pretrained import resnet18_weights_or_none
    from fakeface_lib.training.loop import evaluate, make_optimizer, train_one_epoch
    from fakeface_lib.training.fit import fit
    from fakeface_lib.evaluation.predictions import predict
    from fakeface_lib.evaluation.metrics import (
        by_difficulty, by_region, compute_metrics, majority_baseline, roc_points,
    )
    from fakeface_lib.evaluation.confidence import accuracy_interval, summarize_metrics
    from fakeface_lib.evaluation.results import (
        choose_best, load_run_weights, load_runs, results_table, save_run, save_summary,
    )
    from fakeface_lib.plots import (
        plot_histories, plot_history, plot_image_grid, plot_predictions, plot_roc, plot_samples,
        plot_test_summary,
    )

_API = {
    "fakeface_lib.config": ('CLASS_NAMES', 'DIFFICULTIES', 'MODEL1_RECIPE', 'MODEL2_1_RECIPE', 'MODEL2_2_RECIPE', 'RECIPES', 'REGIONS', 'TrainConfig'),
    "fakeface_lib.utils": ('count_parameters', 'seed_everything'),
    "fakeface_lib.colab": ('checkpoint_plan', 'in_colab', 'results_dir'),
    "fakeface_lib.setup": ('load_series_data', 'setup_notebook'),
    "fakeface_lib.data.download": ('download_dataset',),
    "fakeface_lib.data.index": ('index_dataset',),
    "fakeface_lib.data.splitting": ('canonical_split', 'split_dataset'),
    "fakeface_lib.data.transforms": ('denormalize', 'eval_transform', 'IMAGENET_MEAN', 'IMAGENET_STD'),
    "fakeface_lib.data.loaders": ('FaceDataset', 'make_loaders'),
    "fakeface_lib.models.cnn": ('build_model', 'Model1', 'Model2', 'summary_table'),
    "fakeface_lib.models.resnet": ('build_resnet18',),
    "fakeface_lib.models.pretrained": ('resnet18_weights_or_none',),
    "fakeface_lib.training.loop": ('evaluate', 'make_optimizer', 'train_one_epoch'),
    "fakeface_lib.training.fit": ('fit',),
    "fakeface_lib.evaluation.predictions": ('predict',),
    "fakeface_lib.evaluation.metrics": ('by_difficulty', 'by_region', 'compute_metrics', 'majority_baseline', 'roc_points'),
    "fakeface_lib.evaluation.confidence": ('accuracy_interval', 'summarize_metrics'),
    "fakeface_lib.evaluation.results": ('choose_best', 'load_run_weights', 'load_runs', 'results_table', 'save_run', 'save_summary'),
    "fakeface_lib.plots": ('plot_histories', 'plot_history', 'plot_image_grid', 'plot_predictions', 'plot_roc', 'plot_samples', 'plot_test_summary'),
}
_MODULE_OF = {name: module for module, names in _API.items() for name in names}

__all__ = ["__version__", *sorted(_MODULE_OF, key=str.lower)]


def __getattr__(name: str):
    """Load a public name from its defining module on first use (PEP 562)."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_MODULE_OF))
