"""The flags of the command lines, declared once, and turned into settings once.

`evaluate` and `compute_metrics` share the data and judge groups (same names, same
defaults, same help); the defaults are read from `mix_eval.settings`. Parsers refuse
abbreviated flags, so a mistyped flag is an error rather than another flag.
"""
from __future__ import annotations

import argparse
import re
from typing import Any, Callable, Collection, TypeVar

from mix_eval.folders import AGREEMENT_FILE, CALIBRATION_FILE, JUDGE_REPORT_FILE, SCORE_FILE
from mix_eval.engines import ENGINES, engines_help
from mix_eval.settings import (
    JUDGE_MODES,
    MODEL_MODES,
    BENCHMARKS,
    DTYPES,
    CalibrationSettings,
    EXECUTORS,
    PARSERS,
    REASONING_EFFORTS,
    DataSettings,
    GenerationSettings,
    JudgeSettings,
    ModelSettings,
    OutputSettings,
    ReportSettings,
    RunSettings,
    ScoringSettings,
)

T = TypeVar("T")


def _whole_number(text: str, lowest: int, words: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {words}, got {text!r}") from None
    if value < lowest:
        raise argparse.ArgumentTypeError(f"expected {words}, got {value}")
    return value


def positive_int(text: str) -> int:
    return _whole_number(text, 1, "a positive integer")


def nonnegative_int(text: str) -> int:
    return _whole_number(text, 0, "a whole number >= 0")


def price_pair(text: str) -> tuple[float, float]:
    """``INPUT,OUTPUT``: dollars per million input and output tokens."""
    try:
        price = tuple(float(x) for x in text.split(","))
    except ValueError:
        price = ()
    if len(price) != 2 or any(not (0 <= x < float("inf")) for x in price):
        raise argparse.ArgumentTypeError(
            f"expected INPUT,OUTPUT dollars per million tokens, like 0.5,1.5; got {text!r}")
    return price  # type: ignore[return-value]


def env_var_name(text: str) -> str:
    """An environment variable's name; never echo the value (it may be a key given by mistake)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
        raise argparse.ArgumentTypeError(
            "expected the NAME of an environment variable that holds the key (like MY_SERVER_KEY), "
            "not the key itself"
        )
    return text


def new_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A parser that refuses abbreviations (``--judge_mode`` must not pass for ``--judge_model_id``)."""
    return argparse.ArgumentParser(prog=prog, description=description, allow_abbrev=False)


# ---------------------------------------------------------------- flag groups


def add_model_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--model_name", type=str, required=True,
                   help="Model to evaluate (python -m mix_eval.models lists them).")
    g.add_argument("--model_path", type=str, default=None,
                   help="Local checkpoint folder (or Hub id) for local_chat / local_base.")
    g.add_argument("--model_systemprompt", type=str, default=None,
                   help="System message for local_chat (and other chat models).")
    g.add_argument("--model_module", type=str, action="append", default=None,
                   help="A Python file or module whose @register_model classes to load (repeatable).")
    g.add_argument("--model_base_url", type=str, default=None,
                   help="openai_compatible: the server's base URL, e.g. http://localhost:8000/v1.")
    g.add_argument("--model_id", type=str, default=None,
                   help="openai_compatible: the model name the server serves.")
    g.add_argument("--model_api_key_env", type=env_var_name, default=None,
                   help="openai_compatible: the environment variable holding the server's key (if any).")
    g.add_argument("--model_gen_kwargs", type=str, default=None,
                   help='openai_compatible: extra request parameters as JSON, e.g. \'{"temperature": 0}\'.')
    g.add_argument("--model_price", type=price_pair, default=ModelSettings.model_price, metavar="INPUT,OUTPUT",
                   help="An API model's price in dollars per million input and output tokens, for the cost "
                        "recorded per split (default: the known price, where there is one).")
    g.add_argument("--model_mode", type=str, default=ModelSettings.model_mode, choices=list(MODEL_MODES),
                   help="An OpenAI or Azure model: live calls, or the Batch API (half the price; answers within "
                        "24 h; a rerun resumes the batches it submitted).")


def add_generation_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("generation")
    g.add_argument("--batch_size", type=positive_int, required=True,
                   help="Generation batch size (parallel calls for API models).")
    g.add_argument("--max_new_tokens", type=positive_int, default=GenerationSettings.max_new_tokens,
                   help="Override the model's max new tokens (512 chat, 399 base, 1536 API).")
    g.add_argument("--dtype", type=str, default=GenerationSettings.dtype, choices=list(DTYPES),
                   help="Weights dtype (default: the model's on GPU, float32 on CPU).")
    g.add_argument("--max_gpu_memory", type=str, default=GenerationSettings.max_gpu_memory,
                   help="Memory per GPU for the weights, e.g. 60GiB (default: 85%% of free memory).")
    add_backend_flag(g)
    g.add_argument("--tensor_parallel_size", type=positive_int, default=GenerationSettings.tensor_parallel_size,
                   help="vllm: spread one model over this many GPUs.")
    g.add_argument("--data_parallel_size", type=positive_int, default=GenerationSettings.data_parallel_size,
                   help="vllm: run this many copies of the engine (each on --tensor_parallel_size GPUs), "
                        "each on its share of the items; one response file.")
    g.add_argument("--gpu_memory_utilization", type=float, default=GenerationSettings.gpu_memory_utilization,
                   help="vllm: share of each GPU's memory for weights and KV cache.")
    g.add_argument("--max_model_len", type=positive_int, default=GenerationSettings.max_model_len,
                   help="vllm: context length (default: the model's).")
    g.add_argument("--distributed_executor_backend", type=str, default=GenerationSettings.distributed_executor_backend,
                   choices=list(EXECUTORS),
                   help="vllm: mp (processes on this machine) or ray (the GPUs of a Ray cluster, over several "
                        "machines; README: Several machines). Default: vLLM's choice.")
    d = GenerationSettings
    g.add_argument("--reasoning_effort", type=str, default=d.reasoning_effort, choices=list(REASONING_EFFORTS),
                   help="A reasoning API model's reasoning_effort (OpenAI gpt-5*, o-series; Claude's adaptive "
                        "thinking effort). Changes the answers: recorded, and a resume must match it.")
    g.add_argument("--thinking_budget", type=nonnegative_int, default=d.thinking_budget, metavar="TOKENS",
                   help="Tokens a model may think: Anthropic's extended thinking budget_tokens, Gemini's "
                        "thinking_budget (0: off where the model allows). Recorded like --reasoning_effort.")
    g.add_argument("--reasoning_tags", type=str, default=d.reasoning_tags, metavar="OPEN,CLOSE",
                   help="The tags around a model's thinking in its text, kept apart from the answer "
                        "(default: <think>,</think>; none: never split the text).")
    g.add_argument("--chat_template_kwargs", type=str, default=d.chat_template_kwargs, metavar="JSON",
                   help='A local model\'s chat template switches, e.g. \'{"enable_thinking": true}\' (hf and '
                        "vllm). Recorded like --reasoning_effort.")


def add_backend_flag(g: Any) -> None:
    """``--backend``: the engine of the model under evaluation and of a local judge."""
    g.add_argument("--backend", type=str, default=GenerationSettings.backend, choices=list(ENGINES),
                   help=f"Engine of Hugging Face models and of a local judge: {engines_help()}.")


def add_data_flags(p: argparse.ArgumentParser, *, with_limit: bool) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--benchmark", type=str, required=True, choices=list(BENCHMARKS), help="Benchmark to evaluate.")
    g.add_argument("--version", type=str, required=True,
                   help="Benchmark version, e.g. 2024-06-01 or 2024-08-11.")
    g.add_argument("--data_path", type=str, default=DataSettings.data_path,
                   help="Folder holding mixeval-<version>/ (default: the benchmark shipped with mix_eval; "
                        "other versions are fetched from the Hugging Face Hub).")
    if with_limit:
        g.add_argument("--limit", type=positive_int, default=DataSettings.limit,
                       help="Only the first N items of each split (smoke runs; reported as incomplete).")


# The judge flags that say how responses are scored rather than by which judge: a
# calibration always asks a model judge about the responses as they are.
SCORING_CHOICE_FLAGS = ("free_form_parser", "multi_choice_parser", "extract_base_model_response",
                        "compute_score_from_judged_file")


class _FlagsExcept:
    """An argument group that declares every flag but those named in ``leave_out``."""

    def __init__(self, group: Any, leave_out: Collection[str]):
        self.group, self.leave_out = group, set(leave_out)

    def add_argument(self, *names: str, **kwargs: Any) -> None:
        if names[0].lstrip("-") not in self.leave_out:
            self.group.add_argument(*names, **kwargs)


def add_judge_flags(p: argparse.ArgumentParser, *, leave_out: Collection[str] = ()) -> None:
    """The judge group: every judge flag, but those named in ``leave_out`` (by dest)."""
    d = JudgeSettings
    g = _FlagsExcept(p.add_argument_group("judge"), leave_out)
    g.add_argument("--free_form_parser", type=str, default=d.free_form_parser, choices=list(PARSERS),
                   help="Free-form scoring: an LLM judge (model) or string rules (rule).")
    g.add_argument("--multi_choice_parser", type=str, default=d.multi_choice_parser, choices=list(PARSERS),
                   help="Multiple-choice scoring: an LLM judge (model) or string rules (rule).")
    g.add_argument("--freeform_judge", type=str, default=d.freeform_judge, help="Judge model for free-form.")
    g.add_argument("--multichoice_judge", type=str, default=d.multichoice_judge,
                   help="Judge model for multiple-choice.")
    g.add_argument("--judge_model_id", type=str, default=d.judge_model_id,
                   help="A local Hugging Face model to use as the judge instead of an API.")
    g.add_argument("--batch_size_judge", type=positive_int, default=d.batch_size_judge,
                   help="Batch size of a local judge model.")
    g.add_argument("--max_gpu_memory_judge", type=str, default=d.max_gpu_memory_judge,
                   help="Memory per GPU for a local judge's weights.")
    g.add_argument("--api_base_url", type=str, default=d.api_base_url,
                   help="Base URL of an OpenAI-compatible judge API.")
    g.add_argument("--api_parallel_num", type=positive_int, default=d.api_parallel_num,
                   help="Judge API requests in flight at most.")
    g.add_argument("--extract_base_model_response", action="store_true",
                   help="Cut base models' run-on output before judging.")
    g.add_argument("--compute_score_from_judged_file", action="store_true",
                   help="Score from existing judged files, without calling a judge.")
    g.add_argument("--judge_mode", type=str, default=d.judge_mode, choices=list(JUDGE_MODES),
                   help="API judge: live calls, or the OpenAI Batch API (half the price; results within 24 h; "
                        "a rerun resumes the batches it submitted).")
    g.add_argument("--judge_price", type=price_pair, default=d.judge_price, metavar="INPUT,OUTPUT",
                   help="Live price of the judge in dollars per million input and output tokens, for the cost "
                        f"in {JUDGE_REPORT_FILE} (default: the known judges' list prices, README: Judging after "
                        "GPT-3.5; batch mode halves it).")
    g.add_argument("--judge_reasoning_effort", type=str, default=d.judge_reasoning_effort,
                   choices=list(REASONING_EFFORTS),
                   help="Reasoning judges (gpt-5*, o-series): their reasoning_effort (default: the lowest the "
                        "judge takes). It moves verdicts and cost: recorded, and replies made at another effort "
                        "are not reused.")
    g.add_argument("--judge_revision", type=str, default=d.judge_revision,
                   help="A local judge (--judge_model_id): the Hub revision (commit) to load, recorded in "
                        f"{JUDGE_REPORT_FILE}.")


def add_report_flags(p: argparse.ArgumentParser) -> None:
    """`mix_eval.report`'s choice of scored folders (compute_metrics' flags, each optional) and
    of the judge calibration it shows."""
    g = p.add_argument_group("what to report")
    g.add_argument("--model_response_dir", type=str, default=ReportSettings.model_response_dir,
                   help="Folder of model folders.")
    g.add_argument("--models_to_eval", nargs="+", default=None,
                   help="Model folders to report (default: every one found).")
    g.add_argument("--benchmark", type=str, default=None, choices=list(BENCHMARKS),
                   help="Only this benchmark (default: both).")
    g.add_argument("--version", type=str, default=None,
                   help="Only this benchmark version, e.g. 2024-06-01 (default: every version found).")
    g.add_argument("--calibration", type=str, default=ReportSettings.calibration, metavar="CALIBRATION_JSON",
                   help=f"A {CALIBRATION_FILE} (python -m mix_eval.calibrate) whose shift to show beside the rank of "
                        "runs judged by its judge (default: the one kept in the user's cache for that judge).")


def add_compare_judges_flags(p: argparse.ArgumentParser) -> None:
    """`mix_eval.compare_judges`: which judged files of which two judges to set side by side."""
    g = p.add_argument_group("what to compare")
    g.add_argument("--model_response_dir", type=str, default=ScoringSettings.model_response_dir,
                   help=f"Folder of model folders ({AGREEMENT_FILE} is written there).")
    g.add_argument("--benchmark", type=str, required=True, choices=list(BENCHMARKS), help="Benchmark judged.")
    g.add_argument("--version", type=str, required=True, help="Benchmark version, e.g. 2024-06-01.")
    g.add_argument("--judges", nargs=2, required=True, metavar=("BASELINE", "OTHER"),
                   help="The two judges, as compute_metrics named them (--freeform_judge / --multichoice_judge, "
                        "or --judge_model_id); deltas are OTHER minus BASELINE.")
    g.add_argument("--models_to_eval", nargs="+", default=None,
                   help="Model folders to compare (default: every one holding either judge's judged files).")


def add_bundle_flags(p: argparse.ArgumentParser) -> None:
    """`mix_eval.bundle`: the report's choice of folders, and what to do with the archive."""
    add_report_flags(p)
    g = p.add_argument_group("archive").add_mutually_exclusive_group(required=True)
    g.add_argument("--out", type=str, default=None, metavar="ARCHIVE",
                   help="Write the bundle of the chosen folders to this file (e.g. run.tar.gz).")
    g.add_argument("--verify", type=str, default=None, metavar="ARCHIVE",
                   help=f"Check a bundle: rescore its judged files, compare every {SCORE_FILE}, check completeness.")


def add_verbose_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--verbose", action="store_true", help="Print more.")


# ---------------------------------------------------------------- namespace -> settings


def _group(cls: Callable[..., T], ns: argparse.Namespace, **extra: Any) -> T:
    """``cls`` built from the namespace's attributes of the same names."""
    names = [f for f in cls.__dataclass_fields__ if hasattr(ns, f)]  # type: ignore[attr-defined]
    return cls(**{name: getattr(ns, name) for name in names}, **extra)


def data_settings(ns: argparse.Namespace) -> DataSettings:
    return _group(DataSettings, ns)


def judge_settings(ns: argparse.Namespace) -> JudgeSettings:
    return _group(JudgeSettings, ns)


def run_settings(ns: argparse.Namespace) -> RunSettings:
    """The settings of an `evaluate` command line."""
    generation = _group(GenerationSettings, ns)
    model = _group(ModelSettings, ns, generation=generation)
    return RunSettings(model=model, data=data_settings(ns), judge=judge_settings(ns),
                       output=_group(OutputSettings, ns))


def scoring_settings(ns: argparse.Namespace) -> ScoringSettings:
    """The settings of a `compute_metrics` command line."""
    return ScoringSettings(data=data_settings(ns), judge=judge_settings(ns),
                           model_response_dir=ns.model_response_dir, models_to_eval=ns.models_to_eval,
                           verbose=ns.verbose)


def calibration_settings(ns: argparse.Namespace) -> CalibrationSettings:
    """The settings of a `calibrate` command line (judge flags it leaves out keep their defaults)."""
    return CalibrationSettings(judge=judge_settings(ns), output_dir=ns.output_dir, verbose=ns.verbose)


def report_settings(ns: argparse.Namespace) -> ReportSettings:
    """The settings of a `report` command line."""
    return _group(ReportSettings, ns)
