# Colab imports google.colab into every kernel it starts; so does this stand-in runtime.
import google.colab  # noqa: F401
