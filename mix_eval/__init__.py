"""mix_eval: the MixEval benchmark suite, reference-compatible and crash-safe.

Importing the package is cheap on purpose: torch, transformers and the model
backends load only when a model is actually built.
"""

__version__ = "0.1.0"
