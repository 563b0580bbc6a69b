"""The registered models, declared as data.

Each entry is a `ModelSpec`; `get_model` turns it into a class on first use. Add a
model here with a few lines, or register a class of your own with
``@register_model`` (see `mix_eval.models.base`).
"""
from __future__ import annotations

from typing import Optional

from mix_eval.models.spec import LOCAL_PATH, ModelSpec

SPECS: dict[str, ModelSpec] = {}


def declare(spec: ModelSpec) -> ModelSpec:
    if spec.name in SPECS:
        raise ValueError(f"model {spec.name!r} declared twice")
    SPECS[spec.name] = spec
    return spec


def get_spec(name: str) -> Optional[ModelSpec]:
    return SPECS.get(name)


# Any local Hugging Face checkpoint (--model_path). The reference loads these in
# bfloat16 with flash attention; here flash attention is used only where it is
# installed and a GPU is present, and CPU runs use float32 (see ModelSpec).
declare(ModelSpec(
    name="local_chat", kind="chat", model_id=LOCAL_PATH, dtype="bfloat16",
    attn_implementation="flash_attention_2", trust_remote_code=True,
    sets_pad_token_to_eos=True,
    description="any local chat checkpoint (--model_path), its own chat template",
))
declare(ModelSpec(
    name="local_base", kind="base", model_id=LOCAL_PATH, dtype="bfloat16",
    attn_implementation="flash_attention_2", trust_remote_code=True,
    sets_pad_token_to_eos=True,
    description="any local base checkpoint (--model_path), five-shot prompts",
))
