"""The package's public API for users' own models: the model registry, at the reference's
import path (``from mix_eval.api.registry import register_model``), kept so that a model
class written for the reference works unchanged. Remote APIs live in `mix_eval.llm`."""
