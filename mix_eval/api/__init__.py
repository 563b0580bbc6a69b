"""The model registry, at the reference's import path (`mix_eval.api.registry`)."""
