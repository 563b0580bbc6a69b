"""Hugging Face transformers backends: `ChatModel` and `BaseModel`.

Every model, whatever its backend, offers the generation engine one narrow
interface:

* ``file_input(formatted_input, split)``: the text stored as ``formated_input`` in
  the response file (base models prepend the five-shot prefix);
* ``input_lengths(file_inputs)``: a length per input, to batch similar lengths;
* ``respond(file_inputs)``: one response per input.

The classes also keep the reference's attribute protocol (``model_name``,
``SYSTEM_MESSAGE``, ``build_model``, ``apply_chat_template``, ...) so that a model
class written for the reference suite works here unchanged::

    @register_model("my_model")
    class MyModel(ChatModel):
        def __init__(self, args):
            super().__init__(args)
            self.model_name = "org/my-model"
            self.SYSTEM_MESSAGE = None
            self.model = self.build_model()
            self.model_max_len = self.model.config.max_position_embeddings
            self.tokenizer = self.build_tokenizer()
            self.max_input_length_closeend = min(
                self.model_max_len, self.max_input_length) - self.closeended_max_new_tokens

``args`` is the run's `mix_eval.settings.ModelSettings`, whose attributes carry the
reference's flag names (``args.model_path``, ``args.batch_size``, ...).

torch and transformers are imported only when a model is built.
"""
from __future__ import annotations

import importlib.util
import logging
from types import SimpleNamespace
from typing import Any, Optional

from mix_eval.errors import ModelError, first_line
from mix_eval.models.spec import DEFAULT_MAX_NEW_TOKENS, MAX_INPUT_LENGTH, ModelSpec
from mix_eval.prompts import five_shot_input

logger = logging.getLogger(__name__)


def _torch():
    import torch

    return torch


def cuda_available() -> bool:
    try:
        return _torch().cuda.is_available()
    except Exception:  # a broken CUDA install must not stop a CPU run
        return False


def flash_attention_usable() -> bool:
    """flash_attention_2 needs the flash_attn package and a GPU."""
    return cuda_available() and importlib.util.find_spec("flash_attn") is not None


def resolve_attn_implementation(requested: Optional[str]) -> Optional[str]:
    """The ``attn_implementation`` to load with (None: transformers' default).

    ``flash_attention_2`` only where it can run, a GPU with the flash_attn package;
    elsewhere the default attention. Any other choice is kept as asked.
    """
    if requested == "flash_attention_2" and not flash_attention_usable():
        logger.info("flash_attention_2 needs flash_attn and a GPU; using the default attention")
        return None
    return requested


def resolve_dtype(requested: Optional[str], spec_dtype: Any, on_gpu: bool) -> Any:
    """The dtype to load with.

    ``--dtype`` wins. Otherwise the model's own dtype on a GPU, and float32 on a CPU
    (bfloat16 generation measured 2.5x slower than float32 on CPUs).
    """
    torch = _torch()
    choice = requested or (spec_dtype if on_gpu else "float32")
    if choice == "auto" or choice is None:
        return "auto"
    if isinstance(choice, str):
        try:
            dtype = getattr(torch, choice)
        except AttributeError:
            raise ModelError(f"unknown dtype {choice!r}: use auto, float32, bfloat16 or float16") from None
        if not isinstance(dtype, torch.dtype):
            raise ModelError(f"unknown dtype {choice!r}: use auto, float32, bfloat16 or float16")
        return dtype
    return choice


def quiet_transformers() -> None:
    """No warnings and no weight-loading bars from transformers unless --verbose."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except Exception:  # an old or odd transformers must not stop a run
        pass


def _args_get(args: Any, name: str, default: Any = None) -> Any:
    """A setting by flag name; tolerant, since a reference-style model may be built by hand."""
    return getattr(args, name, default) if args is not None else default


class ModelBase:
    """What every model shares: generation settings and the engine interface."""

    #: set on classes made from a catalog entry (`mix_eval.models.factory`)
    spec: Optional[ModelSpec] = None
    kind = "chat"

    def __init__(self, args: Any):
        self.args = args
        self.max_input_length = MAX_INPUT_LENGTH
        self.openended_max_new_tokens = 1536
        self.closeended_max_new_tokens = DEFAULT_MAX_NEW_TOKENS["chat"]
        self.closeended_max_new_tokens_basemodel = DEFAULT_MAX_NEW_TOKENS["base"]
        self.model_dtype: Any = "auto"
        self.trust_remote_code = False
        self.use_fast_tokenizer = False
        self.padding_side = "left"
        self.gen_kwargs: dict[str, Any] = {}
        self.model_name: Optional[str] = None
        self.revision: Optional[str] = None  # a Hub revision to load (a local judge's --judge_revision)
        self.attn_implementation: Optional[str] = None
        self.max_input_length_closeend: Optional[int] = None

    # ------------------------------------------------------------ engine interface

    def file_input(self, formatted_input: str, problem_type: str) -> str:
        """The `formated_input` stored in the response file."""
        return formatted_input

    def input_lengths(self, file_inputs: list[str]) -> list[int]:
        """Lengths used to sort inputs into batches (characters unless overridden)."""
        return [len(x) for x in file_inputs]

    def respond(self, file_inputs: list[str]) -> list[str]:
        raise NotImplementedError

    def batch_size_for(self, requested: int) -> int:
        """How many inputs `respond` gets at once (``--batch_size`` unless the engine wants more)."""
        return requested

    def close(self) -> None:
        """Release resources (GPU memory, connections)."""


class _TransformersModel(ModelBase):
    """Loading and batched generation with transformers."""

    @property
    def device(self) -> Any:
        model = getattr(self, "model", None)
        if model is not None and hasattr(model, "device"):
            return model.device
        return _torch().device("cuda" if cuda_available() else "cpu")

    # ------------------------------------------------------------ loading

    def build_model(self) -> Any:
        """Load the weights: GPUs with a sequential device map, else the CPU."""
        torch = _torch()
        import transformers
        from transformers import AutoModelForCausalLM

        on_gpu = cuda_available()
        kwargs: dict[str, Any] = {"trust_remote_code": self.trust_remote_code}
        dtype = resolve_dtype(_args_get(self.args, "dtype"), self.model_dtype, on_gpu)
        kwargs["dtype" if _accepts_dtype_kwarg(transformers.__version__) else "torch_dtype"] = dtype
        if on_gpu:
            n = torch.cuda.device_count()
            max_gpu_memory = _args_get(self.args, "max_gpu_memory")
            if max_gpu_memory:
                kwargs["device_map"] = "auto"
                kwargs["max_memory"] = {i: max_gpu_memory for i in range(n)}
            else:
                # Sequential placement copes with GPUs of different sizes; 85% of each
                # GPU's free memory holds weights, the rest is left for activations.
                kwargs["device_map"] = "sequential"
                kwargs["max_memory"] = {
                    i: f"{int(torch.cuda.mem_get_info(i)[0] / 1024**3 * 0.85)}GiB" for i in range(n)
                }
        attn = resolve_attn_implementation(self.attn_implementation)
        if attn is not None:
            kwargs["attn_implementation"] = attn
        try:
            model = AutoModelForCausalLM.from_pretrained(self.model_name, **kwargs, **self.revision_kwargs())
        except (MemoryError, KeyboardInterrupt):
            raise
        except Exception as e:  # a broken or partial checkpoint fails in many ways
            raise ModelError(
                f"could not load the model {self.model_name!r}: {first_line(e)}\n"
                "Check --model_path (a folder with config.json and weights, or a Hub id)."
            ) from None
        return model.eval()

    def build_tokenizer(self) -> Any:
        from transformers import AutoTokenizer

        kwargs: dict[str, Any] = {
            "padding_side": self.padding_side,
            "use_fast": self.use_fast_tokenizer,
            "trust_remote_code": self.trust_remote_code,
        }
        if getattr(self, "model_max_len", None):
            kwargs["model_max_length"] = self.model_max_len
        try:
            return AutoTokenizer.from_pretrained(self.model_name, **kwargs, **self.revision_kwargs())
        except KeyboardInterrupt:
            raise
        except Exception as e:  # missing or broken tokenizer files
            raise ModelError(
                f"could not load the tokenizer of {self.model_name!r}: {first_line(e)}"
            ) from None

    def revision_kwargs(self) -> dict[str, Any]:
        """``revision=`` for every ``from_pretrained`` when one is pinned."""
        return {"revision": self.revision} if self.revision else {}

    @property
    def backend(self) -> str:
        return _args_get(self.args, "backend") or "hf"

    def build_engine(self) -> Any:
        """A vLLM engine for the checkpoint (``--backend vllm``); its context is the model's."""
        from transformers import AutoConfig

        from mix_eval.models.vllm_engine import EngineOptions, start_engine, visible_gpus

        try:
            config = AutoConfig.from_pretrained(self.model_name, trust_remote_code=self.trust_remote_code,
                                                **self.revision_kwargs())
        except KeyboardInterrupt:
            raise
        except Exception as e:
            raise ModelError(f"could not read the config of {self.model_name!r}: {first_line(e)}") from None
        self.model_max_len = _max_positions(SimpleNamespace(config=config))
        on_gpu = cuda_available()
        dtype = resolve_dtype(_args_get(self.args, "dtype"), self.model_dtype, on_gpu)
        options = EngineOptions(
            self.model_name, dtype=str(dtype).replace("torch.", ""), trust_remote_code=self.trust_remote_code,
            max_model_len=self._engine_setting("max_model_len") or self.model_max_len,
            tensor_parallel_size=self._engine_setting("tensor_parallel_size"),
            gpu_memory_utilization=self._engine_setting("gpu_memory_utilization"),
            on_gpu=on_gpu, executor=self._engine_setting("distributed_executor_backend"), revision=self.revision,
            verbose=bool(_args_get(self.args, "verbose")),
        )
        gpus = visible_gpus(_torch().cuda.device_count()) if on_gpu else ()
        return start_engine(options, data_parallel_size=self._engine_setting("data_parallel_size"), gpus=gpus)

    def _engine_setting(self, name: str) -> Any:
        """A vLLM setting of the run (its default for model classes made without one)."""
        from mix_eval.settings import GenerationSettings

        return _args_get(self.args, name, getattr(GenerationSettings, name))

    def load(self, *, sets_pad_token_to_eos: bool = False) -> None:
        """Build model (or vLLM engine) and tokenizer and derive the input length (spec-made classes)."""
        if self.backend == "vllm":
            self.model = None
            self.engine = self.build_engine()
        else:
            self.model = self.build_model()
            self.model_max_len = _max_positions(self.model)
        self.tokenizer = self.build_tokenizer()
        if sets_pad_token_to_eos and self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if self.spec is not None and self.spec.max_input_length_closeend is not None:
            self.max_input_length_closeend = self.spec.max_input_length_closeend
        else:
            self.max_input_length_closeend = (
                min(self.model_max_len, self.max_input_length) - self.closeended_max_new_tokens
            )

    # ------------------------------------------------------------ generation

    def render(self, file_input: str) -> str:
        """The exact text given to the tokenizer."""
        return file_input

    def input_lengths(self, file_inputs: list[str]) -> list[int]:
        rendered = [self.render(x) for x in file_inputs]
        return [len(ids) for ids in self.tokenizer(rendered)["input_ids"]]

    def batch_size_for(self, requested: int) -> int:
        if getattr(self, "engine", None) is None:
            return requested
        from mix_eval.models.vllm_engine import chunk_size

        return chunk_size(requested, self._engine_setting("data_parallel_size"))

    def respond(self, file_inputs: list[str]) -> list[str]:
        """Generate for a batch: left-padded, truncated, only new tokens decoded."""
        if getattr(self, "engine", None) is not None:
            return self._respond_with_engine(file_inputs)
        torch = _torch()
        tok = self.tokenizer
        tok.padding_side = self.padding_side
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        if tok.pad_token is None:
            raise ModelError(
                f"the tokenizer of {self.model_name!r} has neither a pad nor an eos token"
            )
        texts = [self.render(x) for x in file_inputs]
        enc = tok(
            texts,
            return_tensors="pt",
            padding="longest",
            max_length=self.max_input_length_closeend,
            truncation=True,
        ).to(self.device)
        gen_kwargs = dict(self.gen_kwargs)
        gen_kwargs.setdefault("pad_token_id", tok.pad_token_id)
        with torch.no_grad():
            out = self.model.generate(
                input_ids=enc["input_ids"],
                attention_mask=enc["attention_mask"],
                max_new_tokens=self.closeended_max_new_tokens,
                **gen_kwargs,
            )
        new_tokens = out[:, enc["input_ids"].shape[1]:]
        return tok.batch_decode(new_tokens, skip_special_tokens=True)

    def _respond_with_engine(self, file_inputs: list[str]) -> list[str]:
        """The same prompts, truncation and decoding as `respond`; vLLM generates."""
        from mix_eval.models.vllm_engine import sampling_settings

        tok = self.tokenizer
        texts = [self.render(x) for x in file_inputs]
        prompts = tok(texts, max_length=self.max_input_length_closeend, truncation=True)["input_ids"]
        sampling = sampling_settings(self._generation_config(), self.gen_kwargs, tok.eos_token_id)
        new_tokens = self.engine.generate(prompts, self.closeended_max_new_tokens, sampling)
        return tok.batch_decode(new_tokens, skip_special_tokens=True)

    def _generation_config(self) -> Any:
        """The checkpoint's generation config, as `generate` would start from (None when absent)."""
        if not hasattr(self, "_checkpoint_generation_config"):
            from transformers import GenerationConfig

            try:
                self._checkpoint_generation_config = GenerationConfig.from_pretrained(
                    self.model_name, trust_remote_code=self.trust_remote_code, **self.revision_kwargs())
            except Exception:  # noqa: BLE001 - no generation_config.json: transformers' defaults
                self._checkpoint_generation_config = None
        return self._checkpoint_generation_config

    def close(self) -> None:
        engine, self.engine = getattr(self, "engine", None), None
        if engine is not None:
            engine.close()
        self.model = None
        if cuda_available():
            _torch().cuda.empty_cache()


class ChatModel(_TransformersModel):
    """A chat model: one user turn (after an optional system message), chat template."""

    kind = "chat"

    def __init__(self, args: Any):
        super().__init__(args)
        self.SYSTEM_MESSAGE: Optional[dict[str, str]] = {
            "role": "system",
            "content": "You are a helpful assistant.",
        }
        self.USER_MESSAGE_TEMPLATE = lambda x: {"role": "user", "content": x}
        self.ASSISTANT_MESSAGE_TEMPLATE = lambda x: {"role": "assistant", "content": x}

    def get_messages(self, prompt: str) -> list[dict[str, str]]:
        """The single-turn conversation of one close-ended item."""
        user = self.USER_MESSAGE_TEMPLATE(prompt)
        if self.SYSTEM_MESSAGE is None:
            return [user]
        return [dict(self.SYSTEM_MESSAGE), user]

    def apply_chat_template(self, messages: list[dict[str, str]]) -> str:
        """The tokenizer's chat template, with the generation prompt."""
        if getattr(self.tokenizer, "chat_template", None) is None:
            raise ModelError(
                f"the tokenizer of {self.model_name!r} has no chat template; run a base "
                "model as --model_name local_base, or add a chat template to the checkpoint"
            )
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def render(self, file_input: str) -> str:
        return self.apply_chat_template(self.get_messages(file_input))


class BaseModel(_TransformersModel):
    """A base model: raw text after a five-shot prefix."""

    kind = "base"

    def __init__(self, args: Any):
        super().__init__(args)
        self.closeended_max_new_tokens = self.closeended_max_new_tokens_basemodel

    def file_input(self, formatted_input: str, problem_type: str) -> str:
        return five_shot_input(formatted_input, problem_type)


# ---------------------------------------------------------------- helpers


def _max_positions(model: Any) -> int:
    config = model.config
    for name in ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    text_config = getattr(config, "text_config", None)
    if text_config is not None and getattr(text_config, "max_position_embeddings", None):
        return text_config.max_position_embeddings
    return MAX_INPUT_LENGTH


def _accepts_dtype_kwarg(version: str) -> bool:
    """transformers renamed `torch_dtype` to `dtype` in 4.56."""
    try:
        major, minor = (int(p) for p in version.split(".")[:2])
    except ValueError:
        return True
    return (major, minor) >= (4, 56)


