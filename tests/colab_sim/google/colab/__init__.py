"""A stand-in for Colab's ``google.colab`` package: enough for the notebooks to believe they are on Colab."""
