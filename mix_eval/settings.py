"""What a run is, as typed, frozen settings: built once at the edge, read everywhere.

The command line turns its flags into these (`mix_eval.cli.flags`); a Python user
builds them directly and calls `mix_eval.pipeline.evaluate` or
`mix_eval.scoring.run.score` without argparse. Field names are the reference's flag
names, so a status file's ``args`` and a model class written for the reference
(reading ``args.model_path``, ``args.batch_size``, ...) see the same names.

Defaults live here only: the flag declarations read them from these classes.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Optional

from mix_eval.data import BENCHMARKS, DEFAULT_DATA_PATH
from mix_eval.engines import DEFAULT_ENGINE, ENGINES, engine_flag_owners
from mix_eval.errors import MixEvalError
from mix_eval.splits import SplitKind

DEFAULT_OUTPUT_DIR = "mix_eval/data/model_responses"
DEFAULT_RESPONSE_DIR = "mix_eval/data/model_responses/"
DEFAULT_JUDGE = "gpt-3.5-turbo-0125"
PARSERS = ("model", "rule")
DTYPES = ("auto", "float32", "bfloat16", "float16")
JUDGE_MODES = ("live", "batch")  # API judge calls one by one, or through the Batch API
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")  # a reasoning judge's reasoning_effort
EXECUTORS = ("mp", "ray")
MODEL_MODES = ("live", "batch")  # an API model's requests one by one, or through the Batch API


class SettingsError(MixEvalError):
    """A setting that cannot work, named by its flag."""


def _choice(flag: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise SettingsError(f"--{flag} {value!r} is not one of: {', '.join(choices)}")


def _price(flag: str, value: Any) -> Optional[tuple[float, float]]:
    """Two numbers >= 0, dollars per million input and output tokens (None stays None)."""
    if value is None:
        return None
    price = tuple(value)
    if len(price) != 2 or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x >= 0
                                  for x in price):
        raise SettingsError(f"--{flag} must be two numbers >= 0 (dollars per million input and "
                            f"output tokens), got {value!r}")
    return float(price[0]), float(price[1])


def json_object(flag: str, value: Optional[str], example: str) -> dict[str, Any]:
    """A flag that holds a JSON object as given on the command line, parsed ({} when not
    given); anything else is one error naming the flag, with an example."""
    if value is None or value == "":
        return {}
    import json

    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as e:
        raise SettingsError(f"--{flag} is not valid JSON ({e.msg}): {value}") from None
    except RecursionError:
        raise SettingsError(f"--{flag} is nested too deeply to be read; give a JSON object like '{example}'") from None
    if not isinstance(parsed, dict):
        raise SettingsError(f"--{flag} must be a JSON object, like '{example}', not {value}")
    return parsed


# the JSON-object flags, with the example their errors give
GEN_KWARGS_EXAMPLE = '{"temperature": 0}'
TEMPLATE_KWARGS_EXAMPLE = '{"enable_thinking": true}'


def _positive(flag: str, value: Any, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SettingsError(f"--{flag} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class GenerationSettings:
    """How the model under evaluation generates."""

    batch_size: int = 1
    max_new_tokens: Optional[int] = None  # None: the model's own (512 chat, 399 base, 1536 API)
    dtype: Optional[str] = None  # None: the checkpoint's on a GPU, float32 on the CPU
    max_gpu_memory: Optional[str] = None
    # the engine of Hugging Face models (`mix_eval.engines.ENGINES`): transformers `generate`
    # (the reference's) or vLLM
    backend: str = DEFAULT_ENGINE
    tensor_parallel_size: int = 1  # vllm: one model over this many GPUs
    data_parallel_size: int = 1  # vllm: this many engine replicas, each on its share of the items
    gpu_memory_utilization: float = 0.9  # vllm: share of each GPU's memory for weights and KV cache
    max_model_len: Optional[int] = None  # vllm: context length (default: the model's)
    # vllm: how an engine reaches its GPUs; "ray" spreads it over a Ray cluster's machines
    distributed_executor_backend: Optional[str] = None
    # Models that think (`mix_eval.thinking`); each changes the answers, so a resume must match it.
    reasoning_effort: Optional[str] = None  # an API model's reasoning_effort (None: the model's default)
    thinking_budget: Optional[int] = None  # Anthropic's thinking budget_tokens, Gemini's thinking_budget
    reasoning_tags: Optional[str] = None  # OPEN,CLOSE around thinking in the text (None: <think>,</think>)
    chat_template_kwargs: Optional[str] = None  # a JSON object for a local model's chat template

    def __post_init__(self) -> None:
        _positive("batch_size", self.batch_size)
        _positive("max_new_tokens", self.max_new_tokens, optional=True)
        if self.dtype is not None:
            _choice("dtype", self.dtype, DTYPES)
        _choice("backend", self.backend, tuple(ENGINES))
        _positive("tensor_parallel_size", self.tensor_parallel_size)
        _positive("data_parallel_size", self.data_parallel_size)
        if self.distributed_executor_backend is not None:
            _choice("distributed_executor_backend", self.distributed_executor_backend, EXECUTORS)
        _positive("max_model_len", self.max_model_len, optional=True)
        if self.reasoning_effort is not None:
            _choice("reasoning_effort", self.reasoning_effort, REASONING_EFFORTS)
        if self.thinking_budget is not None and (isinstance(self.thinking_budget, bool)
                                                 or not isinstance(self.thinking_budget, int)
                                                 or self.thinking_budget < 0):
            raise SettingsError(f"--thinking_budget must be a whole number of tokens >= 0, got "
                                f"{self.thinking_budget!r}")
        if self.reasoning_tags is not None:
            from mix_eval.thinking import parse_tags

            try:
                parse_tags(self.reasoning_tags)
            except ValueError as e:
                raise SettingsError(f"--reasoning_tags: {e}") from None
        json_object("chat_template_kwargs", self.chat_template_kwargs, TEMPLATE_KWARGS_EXAMPLE)
        if isinstance(self.gpu_memory_utilization, bool) or not 0 < self.gpu_memory_utilization <= 1:
            raise SettingsError(f"--gpu_memory_utilization must be above 0 and at most 1, got "
                                f"{self.gpu_memory_utilization!r}")
        for f in fields(self):  # a setting of another engine than the chosen one would be ignored: refused
            owners = engine_flag_owners(f.name)
            if owners and self.backend not in owners and getattr(self, f.name) != f.default:
                engines = " or ".join(ENGINES[name].label for name in owners)
                raise SettingsError(f"--{f.name} is a setting of the {engines} engine: add --backend {owners[0]}")


@dataclass(frozen=True)
class ModelSettings:
    """Which model answers, and how it is reached.

    Model classes are constructed with this object; the generation settings are
    also readable under their flag names (``settings.batch_size``), as the
    reference's model classes read them from ``args``.
    """

    model_name: str
    model_path: Optional[str] = None
    model_systemprompt: Optional[str] = None
    model_module: tuple[str, ...] = ()
    # --model_name openai_compatible
    model_base_url: Optional[str] = None
    model_id: Optional[str] = None
    model_api_key_env: Optional[str] = None
    model_gen_kwargs: Optional[str] = None  # a JSON object, as given on the command line
    # an API model's price in $ per million input, output tokens, where none is known
    model_price: Optional[tuple[float, float]] = None
    model_mode: str = "live"  # an OpenAI / Azure model: live calls, or the Batch API (half the price)
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    verbose: bool = False

    def __post_init__(self) -> None:
        if not self.model_name:
            raise SettingsError("--model_name is required (python -m mix_eval.models lists the names)")
        object.__setattr__(self, "model_module", tuple(self.model_module or ()))
        object.__setattr__(self, "model_price", _price("model_price", self.model_price))
        _choice("model_mode", self.model_mode, MODEL_MODES)
        json_object("model_gen_kwargs", self.model_gen_kwargs, GEN_KWARGS_EXAMPLE)

    @property
    def batch_size(self) -> int:
        return self.generation.batch_size

    @property
    def max_new_tokens(self) -> Optional[int]:
        return self.generation.max_new_tokens

    @property
    def dtype(self) -> Optional[str]:
        return self.generation.dtype

    @property
    def max_gpu_memory(self) -> Optional[str]:
        return self.generation.max_gpu_memory

    @property
    def backend(self) -> str:
        return self.generation.backend

    @property
    def tensor_parallel_size(self) -> int:
        return self.generation.tensor_parallel_size

    @property
    def data_parallel_size(self) -> int:
        return self.generation.data_parallel_size

    @property
    def distributed_executor_backend(self) -> Optional[str]:
        return self.generation.distributed_executor_backend

    @property
    def gpu_memory_utilization(self) -> float:
        return self.generation.gpu_memory_utilization

    @property
    def max_model_len(self) -> Optional[int]:
        return self.generation.max_model_len

    @property
    def reasoning_effort(self) -> Optional[str]:
        return self.generation.reasoning_effort

    @property
    def thinking_budget(self) -> Optional[int]:
        return self.generation.thinking_budget

    @property
    def reasoning_tags(self) -> Optional[str]:
        return self.generation.reasoning_tags

    @property
    def chat_template_kwargs(self) -> Optional[str]:
        return self.generation.chat_template_kwargs


@dataclass(frozen=True)
class DataSettings:
    """Which benchmark items: benchmark, version, where the data is, how many."""

    benchmark: str
    version: str
    data_path: str = DEFAULT_DATA_PATH
    limit: Optional[int] = None  # the first N items of each split (smoke runs)

    def __post_init__(self) -> None:
        _choice("benchmark", self.benchmark, BENCHMARKS)
        if not self.version:
            raise SettingsError("--version is empty: give a benchmark version, e.g. 2024-06-01 or 2024-08-11")
        _positive("limit", self.limit, optional=True)


@dataclass(frozen=True)
class JudgeSettings:
    """How responses are scored: parsers, judges, and the judge API or local judge."""

    free_form_parser: str = "model"
    multi_choice_parser: str = "model"
    freeform_judge: str = DEFAULT_JUDGE
    multichoice_judge: str = DEFAULT_JUDGE
    judge_model_id: Optional[str] = None  # a local Hugging Face judge instead of an API
    batch_size_judge: int = 1
    max_gpu_memory_judge: Optional[str] = None
    api_base_url: Optional[str] = None
    api_parallel_num: int = 100
    extract_base_model_response: bool = False
    compute_score_from_judged_file: bool = False
    backend: str = DEFAULT_ENGINE  # the engine of a local judge: the same --backend as the model's
    judge_mode: str = "live"  # API judge: live calls, or the Batch API (half the price, within 24 h)
    judge_price: Optional[tuple[float, float]] = None  # $ per million input, output tokens (live)
    judge_reasoning_effort: Optional[str] = None  # reasoning judges: None = the lowest the judge takes
    judge_revision: Optional[str] = None  # a local judge's Hub revision (commit, tag or branch)

    def __post_init__(self) -> None:
        _choice("backend", self.backend, tuple(ENGINES))
        _choice("judge_mode", self.judge_mode, JUDGE_MODES)
        if self.judge_mode == "batch" and self.judge_model_id:
            raise SettingsError("--judge_mode batch sends the judge requests to an API's Batch API; it cannot "
                                "be used with a local judge (--judge_model_id)")
        object.__setattr__(self, "judge_price", _price("judge_price", self.judge_price))
        if self.judge_reasoning_effort is not None:
            _choice("judge_reasoning_effort", self.judge_reasoning_effort, REASONING_EFFORTS)
        if self.judge_revision is not None and not self.judge_model_id:
            raise SettingsError("--judge_revision pins a local judge's weights; give it with --judge_model_id")
        _choice("free_form_parser", self.free_form_parser, PARSERS)
        _choice("multi_choice_parser", self.multi_choice_parser, PARSERS)
        _positive("batch_size_judge", self.batch_size_judge)
        _positive("api_parallel_num", self.api_parallel_num)

    def parser(self, kind: SplitKind) -> str:
        """``model`` or ``rule``: the parser of a kind of split."""
        return getattr(self, kind.parser_flag)

    def judge(self, kind: SplitKind) -> str:
        """The judge as judged file names name it: the local model, or the kind's API judge."""
        return self.judge_model_id or getattr(self, kind.judge_flag)

    @property
    def uses_model_judge(self) -> bool:
        """Whether scoring calls an LLM judge (an API or a local model)."""
        return "model" in (self.free_form_parser, self.multi_choice_parser) and not self.compute_score_from_judged_file


@dataclass(frozen=True)
class OutputSettings:
    """Where a run writes, and under which name."""

    output_dir: str = DEFAULT_OUTPUT_DIR
    output_name: Optional[str] = None  # None: the model name
    inference_only: bool = False


@dataclass(frozen=True)
class RunSettings:
    """Everything `python -m mix_eval.evaluate` is asked to do."""

    model: ModelSettings
    data: DataSettings
    judge: JudgeSettings = field(default_factory=JudgeSettings)
    output: OutputSettings = field(default_factory=OutputSettings)

    @property
    def generation(self) -> GenerationSettings:
        return self.model.generation

    @property
    def verbose(self) -> bool:
        return self.model.verbose

    @property
    def name(self) -> str:
        """The output folder's name: ``output_name``, else ``model_name``."""
        return self.output.output_name or self.model.model_name

    def flags(self) -> dict[str, Any]:
        """Every flag of the run by name, in the reference's order: a status file's ``args``."""
        values: dict[str, Any] = {}
        for group in (self.model, self.generation, self.data, self.judge, self.output):
            values.update({f.name: getattr(group, f.name) for f in fields(group) if f.name != "generation"})
        values["verbose"] = self.verbose
        values["model_module"] = list(self.model.model_module) or None
        ordered = {name: values.pop(name) for name in EVALUATE_FLAG_ORDER}
        ordered.update(values)
        return ordered

    def scoring(self) -> "ScoringSettings":
        """Scoring as `evaluate` runs it: the model just generated, in its output folder."""
        return ScoringSettings(data=self.data, judge=self.judge, model_response_dir=self.output.output_dir,
                               models_to_eval=(self.name,), verbose=self.verbose, this_run=self.name)


# The order of `python -m mix_eval.evaluate`'s flags (the reference's, then ours): the
# order of a status file's ``args``.
EVALUATE_FLAG_ORDER = (
    "model_name", "model_path", "judge_model_id", "model_systemprompt", "benchmark", "version", "batch_size",
    "batch_size_judge", "max_gpu_memory", "max_gpu_memory_judge", "api_parallel_num", "api_base_url",
    "data_path", "output_dir", "inference_only", "verbose", "free_form_parser", "multi_choice_parser",
    "multichoice_judge", "freeform_judge", "extract_base_model_response", "compute_score_from_judged_file",
    "max_new_tokens", "limit", "dtype", "output_name", "model_module", "model_base_url", "model_id",
    "model_api_key_env", "model_gen_kwargs", "backend", "tensor_parallel_size", "data_parallel_size",
    "gpu_memory_utilization", "max_model_len", "distributed_executor_backend", "judge_mode", "judge_price",
    "judge_reasoning_effort", "judge_revision", "reasoning_effort", "thinking_budget", "reasoning_tags",
    "chat_template_kwargs", "model_price", "model_mode",
)


@dataclass(frozen=True)
class ScoringSettings:
    """Everything `python -m mix_eval.compute_metrics` is asked to do."""

    data: DataSettings
    judge: JudgeSettings = field(default_factory=JudgeSettings)
    model_response_dir: str = DEFAULT_RESPONSE_DIR
    models_to_eval: Optional[tuple[str, ...]] = None  # None: every model folder found
    verbose: bool = False
    this_run: Optional[str] = None  # the folder `evaluate` just wrote (known even when not registered)

    def __post_init__(self) -> None:
        if self.models_to_eval is not None:
            object.__setattr__(self, "models_to_eval", tuple(self.models_to_eval))


@dataclass(frozen=True)
class ReportSettings:
    """What `python -m mix_eval.report` is asked to show: the ``score.json`` files under
    ``model_response_dir``, narrowed to a benchmark, a version and models when given."""

    model_response_dir: str = DEFAULT_RESPONSE_DIR
    benchmark: Optional[str] = None  # None: both benchmarks
    version: Optional[str] = None  # None: every version found
    models_to_eval: Optional[tuple[str, ...]] = None  # None: every model folder found
    calibration: Optional[str] = None  # a calibration.json to show (None: the cache's, per judge)

    def __post_init__(self) -> None:
        if self.benchmark is not None:
            _choice("benchmark", self.benchmark, BENCHMARKS)
        if self.models_to_eval is not None:
            object.__setattr__(self, "models_to_eval", tuple(self.models_to_eval))


@dataclass(frozen=True)
class CalibrationSettings:
    """Everything `python -m mix_eval.calibrate` is asked to do: which judge to measure
    against the leaderboard, and where its files go (None: the user's cache, under
    ``calibration/<judge>``)."""

    judge: JudgeSettings = field(default_factory=JudgeSettings)
    output_dir: Optional[str] = None
    verbose: bool = False

    def __post_init__(self) -> None:
        for kind in SplitKind:
            if self.judge.parser(kind) != "model":
                raise SettingsError(f"a calibration measures a model judge: --{kind.parser_flag} must be model")
        if self.judge.compute_score_from_judged_file or self.judge.extract_base_model_response:
            raise SettingsError("a calibration judges the reference responses as they are: leave out "
                                "--compute_score_from_judged_file and --extract_base_model_response")
