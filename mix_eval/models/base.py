"""Hugging Face models: `ChatModel` and `BaseModel`.

Every model, whatever its backend, offers the generation loop
(`mix_eval.generation`) one narrow interface:

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

A model decides what is asked (rendering, truncation, new tokens, decoding settings);
its engine (``--backend``: `mix_eval.models.engine`) generates. torch and transformers
are imported only when a model is built.
"""
from __future__ import annotations

import logging
from typing import Any, Optional

from mix_eval.engines import DEFAULT_ENGINE
from mix_eval.errors import ModelError, first_line
from mix_eval.models.engine import Engine, engine_class
from mix_eval.models.loading import (
    cuda_available,
    resolve_attn_implementation,
    resolve_dtype,
    run_setting,
    torch_module,
)
from mix_eval.models.spec import DEFAULT_MAX_NEW_TOKENS, MAX_INPUT_LENGTH, ModelSpec
from mix_eval.prompts import five_shot_input

logger = logging.getLogger(__name__)


def quiet_transformers() -> None:
    """No warnings and no weight-loading bars from transformers unless --verbose."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
    except Exception:  # an old or odd transformers must not stop a run
        pass


class ModelBase:
    """What every model shares: generation settings and the interface the generation loop uses."""

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

    # ------------------------------------------------------------ generation interface

    def file_input(self, formatted_input: str, problem_type: str) -> str:
        """The `formated_input` stored in the response file."""
        return formatted_input

    def input_lengths(self, file_inputs: list[str]) -> list[int]:
        """Lengths used to sort inputs into batches (characters unless overridden)."""
        return [len(x) for x in file_inputs]

    def respond(self, file_inputs: list[str]) -> list[str]:
        raise NotImplementedError

    def batch_size_for(self, requested: int) -> int:
        """How many inputs `respond` gets at once (``--batch_size`` unless its engine wants more)."""
        return requested

    def close(self) -> None:
        """Release resources (GPU memory, connections)."""


class _TransformersModel(ModelBase):
    """A Hugging Face checkpoint: its tokenizer and prompts here, generation by its engine."""

    @property
    def device(self) -> Any:
        model = getattr(self, "model", None)
        if model is not None and hasattr(model, "device"):
            return model.device
        return torch_module().device("cuda" if cuda_available() else "cpu")

    # ------------------------------------------------------------ loading

    def build_model(self) -> Any:
        """Load the weights: GPUs with a sequential device map, else the CPU."""
        torch = torch_module()
        import transformers
        from transformers import AutoModelForCausalLM

        on_gpu = cuda_available()
        kwargs: dict[str, Any] = {"trust_remote_code": self.trust_remote_code}
        dtype = resolve_dtype(run_setting(self.args, "dtype"), self.model_dtype, on_gpu)
        kwargs["dtype" if _accepts_dtype_kwarg(transformers.__version__) else "torch_dtype"] = dtype
        if on_gpu:
            n = torch.cuda.device_count()
            max_gpu_memory = run_setting(self.args, "max_gpu_memory")
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
        """The name of the engine that generates (`mix_eval.engines.ENGINES`)."""
        return run_setting(self.args, "backend") or DEFAULT_ENGINE

    def load(self, *, sets_pad_token_to_eos: bool = False) -> None:
        """Start the engine (which loads the weights) and the tokenizer, and derive the input
        length (spec-made classes)."""
        self.engine = engine_class(self.backend).start(self)
        self.model = self.engine.weights  # None where the engine holds them elsewhere (vLLM)
        self.model_max_len = self.engine.max_positions
        self.tokenizer = self.build_tokenizer()
        if sets_pad_token_to_eos and self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if self.spec is not None and self.spec.max_input_length_closeend is not None:
            self.max_input_length_closeend = self.spec.max_input_length_closeend
        else:
            self.max_input_length_closeend = (
                min(self.model_max_len, self.max_input_length) - self.closeended_max_new_tokens
            )

    def _engine(self) -> Engine:
        """The started engine; for a reference-style class, which loaded its own weights
        (``self.model = self.build_model()``), transformers `generate` on them."""
        engine = getattr(self, "engine", None)
        if engine is not None:
            return engine
        from mix_eval.models.hf_engine import TransformersEngine

        return TransformersEngine(self.model)

    # ------------------------------------------------------------ generation

    def render(self, file_input: str) -> str:
        """The exact text given to the tokenizer."""
        return file_input

    def input_lengths(self, file_inputs: list[str]) -> list[int]:
        rendered = [self.render(x) for x in file_inputs]
        return [len(ids) for ids in self.tokenizer(rendered)["input_ids"]]

    def batch_size_for(self, requested: int) -> int:
        return self._engine().batch_size(requested)

    def respond(self, file_inputs: list[str]) -> list[str]:
        """Generate for a batch: the rendered inputs, truncated, only new tokens decoded."""
        return self._engine().answer(self, [self.render(x) for x in file_inputs])

    def close(self) -> None:
        engine, self.engine = getattr(self, "engine", None), None
        if engine is not None:
            engine.close()
        self.model = None
        if cuda_available():
            torch_module().cuda.empty_cache()


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


def _accepts_dtype_kwarg(version: str) -> bool:
    """transformers renamed `torch_dtype` to `dtype` in 4.56."""
    try:
        major, minor = (int(p) for p in version.split(".")[:2])
    except ValueError:
        return True
    return (major, minor) >= (4, 56)
