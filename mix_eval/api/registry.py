"""Model registry: names to model classes.

``@register_model("name")`` registers a class; ``get_model("name")`` returns it.
Models declared as data (a `ModelSpec` in `mix_eval.models.catalog`) get a class
made on first use, so importing the registry imports neither torch nor any model
backend.
"""
from __future__ import annotations

import difflib
import importlib
import importlib.util
import logging
import os
import sys
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


ENTRY_POINT_GROUP = "mix_eval.models"
_entry_points_loaded = False


def load_model_modules(modules: list[str]) -> None:
    """Import user files or modules whose ``@register_model`` classes register models."""
    for ref in modules:
        try:
            if ref.endswith(".py") or os.path.sep in ref:
                path = os.path.abspath(ref)
                if not os.path.isfile(path):
                    raise ModelError(f"--model_module {ref}: no such file")
                name = "mix_eval_user_models_" + str(abs(hash(path)))
                spec = importlib.util.spec_from_file_location(name, path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                spec.loader.exec_module(module)
            else:
                importlib.import_module(ref)
        except ModelError:
            raise
        except Exception as e:
            raise ModelError(f"--model_module {ref} failed to load: {type(e).__name__}: {e}") from None


def _load_entry_points() -> None:
    """Import the modules other packages declare in the `mix_eval.models` entry point group."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as e:
            logger.warning("could not load the model entry point %s (%s): %s", ep.name, ep.value, e)


def get_model(model_name: str) -> type:
    """The model class registered under ``model_name``."""
    if model_name in MODEL_REGISTRY:
        return MODEL_REGISTRY[model_name]
    from mix_eval.models import catalog

    spec = catalog.get_spec(model_name)
    if spec is None:
        _load_entry_points()
        if model_name in MODEL_REGISTRY:
            return MODEL_REGISTRY[model_name]
        from mix_eval.models.factory import class_for_id

        by_id = class_for_id(model_name)  # a current API model named by its id (gpt-*, claude-*, ...)
        names = available_model_names()
        folded = {n.lower(): n for n in names}
        if by_id is not None:
            row = folded.get(model_name.lower().replace("-", "_").replace(".", ""))
            if row is not None:  # gpt-4o for gpt_4o: the user may have meant the reference's row
                logger.warning("--model_name %s is a model id, evaluated as the provider serves it today; the "
                               "catalog's %s is the reference's row (%s), asked as the leaderboard asked it",
                               model_name, row, getattr(catalog.get_spec(row), "model_id", row))
            MODEL_REGISTRY[model_name] = by_id
            return by_id
        close = [folded[m] for m in difflib.get_close_matches(
            model_name.lower().replace("-", "_"), list(folded), n=3, cutoff=0.6)]
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
