"""Model registry: names to model classes.

``@register_model("name")`` registers a class; ``get_model("name")`` returns it.
Models declared as data (a `ModelSpec` in `mix_eval.models.catalog`) get a class
made on first use, so importing the registry imports neither torch nor any model
backend.
"""
from __future__ import annotations

import difflib
import logging
from typing import Callable, TypeVar

from mix_eval.errors import ModelError

logger = logging.getLogger(__name__)

MODEL_REGISTRY: dict[str, type] = {}

T = TypeVar("T", bound=type)


def register_model(*names: str) -> Callable[[T], T]:
    """Class decorator: make the class available under each of ``names``."""
    if not names:
        raise ValueError("register_model needs at least one name")

    def decorate(cls: T) -> T:
        for name in names:
            previous = MODEL_REGISTRY.get(name)
            if previous is not None and previous is not cls:
                logger.warning("model name %r re-registered: %s replaces %s", name, cls, previous)
            MODEL_REGISTRY[name] = cls
        return cls

    return decorate


def available_model_names() -> list[str]:
    """Every name `get_model` accepts: registered classes and catalog specs."""
    from mix_eval.models import AVAILABLE_MODELS

    return sorted(set(MODEL_REGISTRY) | set(AVAILABLE_MODELS))


def get_model(model_name: str) -> type:
    """The model class registered under ``model_name``."""
    if model_name in MODEL_REGISTRY:
        return MODEL_REGISTRY[model_name]
    from mix_eval.models import catalog

    spec = catalog.get_spec(model_name)
    if spec is None:
        close = difflib.get_close_matches(model_name, available_model_names(), n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ModelError(
            f"unknown model name {model_name!r}.{hint} "
            "`python -m mix_eval.models` lists every registered model; local checkpoints "
            "run as --model_name local_chat (or local_base) --model_path PATH."
        )
    from mix_eval.models.factory import model_class_for

    cls = model_class_for(spec)
    MODEL_REGISTRY[model_name] = cls
    return cls
