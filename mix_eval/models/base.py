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

A model that thinks (Qwen3, DeepSeek-R1 and its distills) is rendered with the
template switches of ``--chat_template_kwargs`` and answers with its thinking apart
(`local_answer`, the same split whichever engine generated): its text keeps the
thinking tags, which are ordinary tokens of such models, and its rendered prompt says
whether the template opened the thinking. A model that does not think answers plain
text, as before.
"""
from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any, Callable, Mapping, Optional, Sequence, Union

from mix_eval.engines import DEFAULT_ENGINE
from mix_eval.errors import ModelError, first_line
from mix_eval.models.engine import Engine, Generation, as_generation, engine_class
from mix_eval.models.loading import (
    cuda_available,
    resolve_attn_implementation,
    resolve_dtype,
    run_setting,
    torch_module,
)
from mix_eval.models.spec import DEFAULT_MAX_NEW_TOKENS, MAX_INPUT_LENGTH, ModelSpec
from mix_eval.prompts import five_shot_input
from mix_eval.settings import TEMPLATE_KWARGS_EXAMPLE, json_object
from mix_eval.thinking import LENGTH, Answer, Tags, answer_from_text, cut_off_line, parse_tags

logger = logging.getLogger(__name__)

# What mix_eval passes to `apply_chat_template` itself: --chat_template_kwargs may not set them.
RENDER_ARGUMENTS = ("conversation", "messages", "tokenize", "add_generation_prompt")
# The budget the warning suggests to a model that thinks on its default (512 for chat models): room for a
# few thousand tokens of thinking before a short answer; the count cut off after it says if it was enough.
THINKING_NEW_TOKENS = 8192


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

    def __init__(self, args: Any):
        super().__init__(args)
        self.reasoning_tags: Tags = parse_tags(run_setting(args, "reasoning_tags"))
        self._budget_warned = False

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
            # the budget the model has without --max_new_tokens: a larger one asked keeps the prompt's room
            default = None if not run_setting(self.args, "max_new_tokens") else (
                self.spec.closeended_max_new_tokens if self.spec is not None else DEFAULT_MAX_NEW_TOKENS.get(self.kind))
            self.max_input_length_closeend = input_room(self.model_max_len, self.max_input_length,
                                                        self.closeended_max_new_tokens, default)
            if self.max_input_length_closeend < 1:
                raise ModelError(
                    f"--max_new_tokens {self.closeended_max_new_tokens} leaves no room for the prompt in the "
                    f"{self.model_max_len}-token context of {self.model_name!r}: lower it")

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

    def generate(self, rendered: list[str]) -> list[Generation]:
        """Generate for a batch of rendered prompts: truncated, only new tokens decoded."""
        return [as_generation(a) for a in self._engine().answer(self, rendered)]

    def respond(self, file_inputs: list[str]) -> list[Union[str, Answer]]:
        """One answer per input: the text as it was generated, or for a model that thinks an
        `Answer` with the thinking apart (`local_answer`)."""
        rendered = [self.render(x) for x in file_inputs]
        opened = [opens_thinking(prompt, x, self.reasoning_tags) for x, prompt in zip(file_inputs, rendered)]
        answers = [local_answer(g, self.reasoning_tags, o, self.decode)
                   for g, o in zip(self.generate(rendered), opened)]
        self._warn_thinking_budget(answers)
        return answers

    def decode(self, token_ids: Any) -> str:
        """New token ids as text, as the engines decode them (`mix_eval.models.engine.generations`)."""
        return self.tokenizer.decode(list(token_ids), skip_special_tokens=True)

    def _warn_thinking_budget(self, answers: list[Union[str, Answer]]) -> None:
        """Once, at the first batch with answers cut off while thinking, when the model runs on
        its default budget (no --max_new_tokens): the default, the count, the fix. The split's
        counts follow in the status file and the lines that end generation."""
        cut = sum(isinstance(a, Answer) and a.cut_off for a in answers)
        if self._budget_warned or not cut or run_setting(self.args, "max_new_tokens"):
            return
        self._budget_warned = True
        logger.warning(
            "%s runs on its default of %d new tokens (no --max_new_tokens): %s in one batch already; give the "
            "thinking room with --max_new_tokens (e.g. %d; the thinking and the answer share it) into a new "
            "--output_dir",
            self.model_name, self.closeended_max_new_tokens, cut_off_line(cut, len(answers)), THINKING_NEW_TOKENS)

    def close(self) -> None:
        engine, self.engine = getattr(self, "engine", None), None
        if engine is not None:
            engine.close()
        self.model = None
        if cuda_available():
            torch_module().cuda.empty_cache()


class ChatModel(_TransformersModel):
    """A chat model: one user turn (after an optional system message), chat template
    (given ``--chat_template_kwargs``)."""

    kind = "chat"

    def __init__(self, args: Any):
        super().__init__(args)
        self.chat_template_kwargs: dict[str, Any] = template_kwargs(run_setting(args, "chat_template_kwargs"))
        self._kwargs_checked = False
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
        """The tokenizer's chat template, with the generation prompt and ``--chat_template_kwargs``."""
        if getattr(self.tokenizer, "chat_template", None) is None:
            raise ModelError(
                f"the tokenizer of {self.model_name!r} has no chat template; run a base "
                "model as --model_name local_base, or add a chat template to the checkpoint"
                + (" (--chat_template_kwargs needs one)" if self.chat_template_kwargs else "")
            )
        text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                                  **self.chat_template_kwargs)
        if self.chat_template_kwargs and not self._kwargs_checked:
            self._kwargs_checked = True
            if text == self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True):
                logger.warning("the chat template of %s renders the same prompt without --chat_template_kwargs "
                               "%s: it reads none of them", self.model_name, json.dumps(self.chat_template_kwargs))
        return text

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


def input_room(context: int, cap: int, new_tokens: int, default_new_tokens: Optional[int] = None) -> int:
    """How many prompt tokens a close-ended input keeps (``max_input_length_closeend``).

    The reference's rule, ``min(context, cap) - new_tokens``, holds at the model's default
    budget (``default_new_tokens``; None: the budget is the default) and below. A larger
    budget (a model that thinks) would squeeze the prompt to nothing, so the prompt keeps
    the room it had at the default budget, as far as the context allows beside the new
    tokens.
    """
    reference = min(context, cap) - new_tokens
    if default_new_tokens is None:
        return reference
    return max(reference, min(min(context, cap) - default_new_tokens, context - new_tokens))


def template_kwargs(value: Union[None, str, Mapping[str, Any]]) -> dict[str, Any]:
    """``--chat_template_kwargs`` as keyword arguments of ``apply_chat_template`` ({} when none)."""
    parsed = dict(value) if isinstance(value, Mapping) else json_object("chat_template_kwargs", value,
                                                                          TEMPLATE_KWARGS_EXAMPLE)
    taken = [k for k in parsed if k in RENDER_ARGUMENTS]
    if taken:
        raise ModelError(f"--chat_template_kwargs cannot set {', '.join(taken)}: mix_eval renders the prompt "
                         "with them itself; give only the template's own switches, like enable_thinking")
    return parsed


def check_chat_template_kwargs(model_name: str, model_cls: type, value: Optional[str]) -> None:
    """Refuse ``--chat_template_kwargs`` for a model whose prompts no tokenizer chat template
    renders: an API model (its server renders them), a base model (five-shot text), a
    catalog model with a fixed template of its own, a class of a --model_module that is no
    `ChatModel`."""
    if not template_kwargs(value):
        return
    spec = getattr(model_cls, "spec", None)
    if getattr(model_cls, "kind", None) == "api" or (spec is not None and spec.kind == "api"):
        raise ModelError(f"--chat_template_kwargs reaches the chat template of a local model (--backend hf or "
                         f"vllm); {model_name} is an API model, whose server renders its prompts: ask it to think "
                         "with --reasoning_effort or --thinking_budget")
    if issubclass(model_cls, BaseModel) or (spec is not None and spec.kind == "base"):
        raise ModelError(f"--chat_template_kwargs reaches a chat template; {model_name} is a base model, given "
                         "five-shot text without one: leave it out, or evaluate a chat model (local_chat)")
    if not issubclass(model_cls, ChatModel):
        raise ModelError(f"--chat_template_kwargs reaches the tokenizer's chat template of a chat model; the class "
                         f"of {model_name} renders its prompts its own way: leave it out")
    if spec is not None and spec.chat_template is not None:
        raise ModelError(f"--chat_template_kwargs reaches the tokenizer's chat template; {model_name} renders its "
                         "prompts with a fixed template of the catalog, which takes none: leave it out")


def opens_thinking(prompt: str, file_input: str, tags: Tags) -> bool:
    """Whether the rendered prompt leaves the model inside an opened thinking tag: the text
    the template put after the input opens the tag and does not close it (DeepSeek-R1's
    distills, Qwen3's thinking models), so the model's text begins inside its thinking."""
    if tags is None:
        return False
    at = prompt.rfind(file_input) if file_input else -1
    tail = prompt[at + len(file_input):] if at != -1 else prompt
    return tail.rfind(tags[0]) > tail.rfind(tags[1])


def local_answer(generation: Generation, tags: Tags, opened: bool,
                 decode: Optional[Callable[[Sequence[int]], str]] = None) -> Union[str, Answer]:
    """A local model's answer, whatever engine generated it.

    Plain text (the line the reference wrote) unless the model thought: its prompt opened
    the thinking tag or its text holds one. Then an `Answer`: the thinking apart
    (`mix_eval.thinking.answer_from_text`, which reads a text whose prompt opened the tag
    as beginning inside it), cut off when it never closed,
    the prompt's and the answer's tokens, and the thinking's tokens (`thinking_tokens`).
    """
    text = generation.text
    if tags is None or not (opened or tags[0] in text or tags[1] in text):
        return text
    answer = answer_from_text(text, tags, opened=opened, finish_reason=generation.finish_reason,
                              prompt_tokens=generation.prompt_tokens,
                              completion_tokens=generation.completion_tokens)
    return replace(answer, reasoning_tokens=thinking_tokens(generation, tags[1], decode))


def thinking_tokens(generation: Generation, close_tag: str,
                    decode: Optional[Callable[[Sequence[int]], str]]) -> Optional[int]:
    """How many of the new tokens the thinking took: those up to and including the first
    closing tag (the fewest whose text holds it, however the tokenizer spells the tag), or
    every token but the stop token when the tag never came. None when unknown: an engine
    that gave text alone, or no tokenizer to count the tag's place with."""
    ids = generation.token_ids
    if ids is None:
        return None
    if close_tag not in generation.text:
        return len(ids) - (generation.finish_reason != LENGTH and len(ids) > 0)
    if decode is None:
        return None
    low, high = 1, len(ids)  # the text of ids[:k] holds the tag for k = high, grows with k
    while low < high:
        mid = (low + high) // 2
        if close_tag in decode(ids[:mid]):
            high = mid
        else:
            low = mid + 1
    return high


def _accepts_dtype_kwarg(version: str) -> bool:
    """transformers renamed `torch_dtype` to `dtype` in 4.56."""
    try:
        major, minor = (int(p) for p in version.split(".")[:2])
    except ValueError:
        return True
    return (major, minor) >= (4, 56)
