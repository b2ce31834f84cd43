"""fakeface_lib: data, models, training and evaluation for the fakeface notebook series.

Importing the package is cheap; the submodules (``fakeface_lib.data``, ``.models`` ...)
load torch and friends when they are imported.
"""

__version__ = "0.1.0"

CLASS_NAMES = ("training_fake", "training_real")  # ImageFolder order: fake = 0, real = 1
REGIONS = ("left_eye", "right_eye", "nose", "mouth")  # order of the digits in a fake's code
DIFFICULTIES = ("easy", "mid", "hard")
GITHUB_REPO = "fakeface/fakeface"  # where the Colab badges and the Colab install point

__all__ = ["__version__", "CLASS_NAMES", "REGIONS", "DIFFICULTIES", "GITHUB_REPO"]
