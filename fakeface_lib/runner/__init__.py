"""The notebook runner, apart from the library: execute the series in a repository's checkout
(series), write its report (report), keep the run folders in check (runs), and the command line
(``python -m fakeface_lib.runner run | prune``).

Nothing in the library imports this package; it finds the notebooks in the repository it runs
in, never from where the package is installed.
"""
