"""Classes made from catalog specs: a model is data, its class is derived."""
from __future__ import annotations

import logging
import os
from typing import Any, Optional

from mix_eval.engines import DEFAULT_ENGINE
from mix_eval.errors import ModelError
from mix_eval.models.base import BaseModel, ChatModel
from mix_eval.models.engine import engine_class
from mix_eval.models.spec import ModelSpec, resolve_gen_kwargs
from mix_eval.settings import ModelSettings

logger = logging.getLogger(__name__)


def check_backend(model_name: str, model_cls: type, backend: str) -> None:
    """Any engine drives the catalog's Hugging Face models; an API model, or a class that
    loads its own weights, runs as it is: refuse another engine for it. An engine that
    needs a package not installed is refused here, before any work."""
    if backend == DEFAULT_ENGINE:
        return
    spec = getattr(model_cls, "spec", None)
    if spec is None or spec.kind == "api":
        what = "an API model" if spec is not None else "a model class that loads its own weights"
        raise ModelError(
            f"--backend {backend} drives the Hugging Face models of the catalog (local_chat, local_base and "
            f"the others listed by python -m mix_eval.models); {model_name} is {what}: leave --backend out"
        )
    engine_class(backend).check_available()


def check_model_flags(model_name: str, model_cls: type, settings: ModelSettings) -> None:
    """Refuse, before any work, the flags a model cannot take: the thinking flags of API
    models for a local one, `--model_mode batch` for a model without OpenAI's Batch API,
    `--chat_template_kwargs` for a model no tokenizer template renders
    (`models.base.check_chat_template_kwargs`). (An API model checks its thinking flags
    against its provider when it is made: `ChatAPIModel._request`.)"""
    from mix_eval.models.base import check_chat_template_kwargs
    from mix_eval.models.base_api import APIModelBase

    if not issubclass(model_cls, APIModelBase):
        for flag in ("reasoning_effort", "thinking_budget"):
            if getattr(settings, flag) is not None:
                raise ModelError(
                    f"--{flag} applies to API models; {model_name} is a local model, whose thinking its chat "
                    "template switches: pass --chat_template_kwargs (e.g. '{\"enable_thinking\": true}', or "
                    "'{\"reasoning_effort\": \"high\"}' for gpt-oss) instead"
                )
    check_model_mode(settings, model_cls)
    check_chat_template_kwargs(model_name, model_cls, settings.chat_template_kwargs)


def check_model_mode(settings: ModelSettings, model_cls: Any) -> None:
    """Refuse ``--model_mode batch`` for a model that cannot be asked through OpenAI's
    Batch API: a local checkpoint, a model of a provider without one (``batch_api`` in
    `llm.providers.PROVIDERS`) or a catalog model served by another company's
    OpenAI-compatible endpoint."""
    if settings.model_mode != "batch":
        return
    from mix_eval.llm.providers import provider_entry
    from mix_eval.models.api_models import COMPATIBLE_ENDPOINTS, OpenAICompatibleEndpoint

    name = settings.model_name
    spec = getattr(model_cls, "spec", None)
    provider = getattr(model_cls, "provider_name", None) if isinstance(model_cls, type) else None
    leave = "leave --model_mode out (live calls)"
    if provider is None or not provider_entry(provider).batch_api or spec is None:
        if spec is not None and spec.kind != "api":
            what = "a local checkpoint"
        elif spec is not None:
            what = f"a model of the {'/'.join(spec.sdk) or 'its own'} API"
        else:
            what = "a model class of its own"
        raise ModelError(f"--model_mode batch sends an OpenAI model's requests through OpenAI's Batch API; "
                         f"{name} is {what}: {leave}")
    if issubclass(model_cls, OpenAICompatibleEndpoint):
        return  # the server of --model_base_url: a 404 on its /files says it has no Batch API
    other = spec.base_url or next((COMPATIBLE_ENDPOINTS[s][0] for s in spec.sdk if s in COMPATIBLE_ENDPOINTS), None)
    if other:
        raise ModelError(f"--model_mode batch sends an OpenAI model's requests through OpenAI's Batch API; {name} "
                         f"is served at {other}, which has none: {leave}")


def check_model_path(flag: str, path: Any) -> str:
    """A local checkpoint folder or a Hub id (``org/name``); else a clear error naming ``flag``."""
    path = str(path)
    if os.path.exists(path):
        if not os.path.isdir(path) or not os.path.isfile(os.path.join(path, "config.json")):
            raise ModelError(
                f"{flag} {path} is not a Hugging Face checkpoint: a checkpoint is a "
                "folder with config.json, the weights and the tokenizer files"
            )
    elif path.startswith((".", "/", "~")) or path.count("/") != 1:
        raise ModelError(f"{flag} {path} does not exist (give a checkpoint folder or a Hub id like org/name)")
    return path


class _SpecMixin:
    """Sets the reference's attributes from `spec`, then loads."""

    spec: ModelSpec

    def __init__(self, args: ModelSettings):
        super().__init__(args)  # type: ignore[call-arg]
        spec = self.spec
        if spec.is_local:
            model_path = args.model_path
            if not model_path:
                raise ModelError(
                    f"--model_name {spec.name} needs --model_path (a local checkpoint folder or a Hub id)"
                )
            self.model_name = check_model_path("--model_path", model_path)
        else:
            self.model_name = spec.model_id
        self.model_dtype = spec.dtype
        self.trust_remote_code = spec.trust_remote_code
        self.use_fast_tokenizer = spec.use_fast_tokenizer
        self.attn_implementation = spec.attn_implementation
        self.gen_kwargs = dict(spec.gen_kwargs)
        self.closeended_max_new_tokens = args.max_new_tokens or spec.closeended_max_new_tokens
        if spec.kind == "chat":
            system = args.model_systemprompt or spec.system_message
            self.SYSTEM_MESSAGE = {"role": "system", "content": system} if system else None
        self.load(sets_pad_token_to_eos=spec.sets_pad_token_to_eos)
        if spec.tie_weights_after_load and self.model is not None:  # None: the engine loads the weights elsewhere
            self.model.tie_weights()
        vocab = self.tokenizer.get_vocab()
        try:
            self.gen_kwargs = resolve_gen_kwargs(spec.gen_kwargs, self.tokenizer.eos_token_id, vocab.get)
        except ValueError as e:
            raise ModelError(f"{spec.name}: {e}") from None

    def render(self, file_input: str) -> str:
        if self.spec.chat_template is not None:
            return self.spec.chat_template.replace("{{USER}}", file_input)
        return super().render(file_input)  # type: ignore[misc]


def _class_name(spec: ModelSpec) -> str:
    return "".join(part.capitalize() for part in spec.name.split("_")) + "Model"


def model_class_for(spec: ModelSpec) -> type:
    """The model class of a catalog spec."""
    if spec.kind == "chat":
        bases: tuple[type, ...] = (_SpecMixin, ChatModel)
    elif spec.kind == "base":
        bases = (_SpecMixin, BaseModel)
    else:
        return _api_class_for(spec)
    return type(_class_name(spec), bases, {"spec": spec, "__module__": __name__})


# OpenAI model ids beyond the families of `mix_eval.llm.known_judges` (gpt-5*, o-series,
# claude-*, gemini-*): any of these evaluates a current model by its id (`class_for_id`).
OPENAI_ID_PREFIXES = ("gpt-", "chatgpt-")


def class_for_id(model_id: str) -> Optional[type]:
    """The API model class of a ``--model_name`` that is no catalog name but a current
    model's id of a known family (gpt-*, chatgpt-*, o1/o3/o4*, claude-*, gemini-*):
    that provider's model class, asked by that id with the provider's key variable; None
    for any other name. Its request style is its family's (`ChatAPIModel._style`)."""
    from mix_eval.llm.known_judges import family_of, provider_of
    from mix_eval.llm.providers import provider_entry
    from mix_eval.models.sdk_models import MODEL_CLASSES

    if family_of(model_id) is None and not model_id.startswith(OPENAI_ID_PREFIXES):
        return None
    provider = provider_of(model_id)
    spec = ModelSpec(name=model_id, kind="api", model_id=model_id, env_keys=(provider_entry(provider).key_var,),
                     description=f"{provider} model {model_id}, named by its id")
    logger.info("--model_name %s is not in the catalog: evaluating the %s API model %s by its id (key %s)",
                model_id, provider, model_id, spec.env_keys[0])
    return type(_class_name(spec), (MODEL_CLASSES[provider],),
                {"spec": spec, "by_id": True, "__module__": __name__})


def _api_class_for(spec: ModelSpec) -> type:
    """The class of an API spec: the model class of its SDK's provider (`models.sdk_models`)."""
    from mix_eval.llm.providers import OPENAI
    from mix_eval.models.api_models import OpenAICompatibleEndpoint
    from mix_eval.models.sdk_models import MODEL_CLASSES, SDK_PROVIDERS

    known = [SDK_PROVIDERS[sdk] for sdk in spec.sdk if sdk in SDK_PROVIDERS]
    if spec.name == "openai_compatible":
        base: type = OpenAICompatibleEndpoint
    elif known or not spec.sdk:
        base = MODEL_CLASSES[known[0] if known else OPENAI]
    else:
        raise ModelError(
            f"{spec.name} is served through the {'/'.join(spec.sdk)} SDK, which this version does not "
            "support yet; its responses can still be scored with compute_metrics"
        )
    return type(_class_name(spec), (base,), {"spec": spec, "__module__": __name__})
