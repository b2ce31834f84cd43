"""fakeface_lib: data, models, training and evaluation for the fakeface notebook series.

Importing the package is cheap; the submodules (``fakeface_lib.data``, ``.models`` ...)
load torch and friends when they are imported.
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


__all__ = ["__version__", "CLASS_NAMES", "REGIONS", "DIFFICULTIES", "GITHUB_REPO", "RELEASE",
           "INSTALL_SPEC", "colab_url"]
