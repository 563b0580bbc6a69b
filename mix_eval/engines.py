"""The engines of Hugging Face models (``--backend``), by name: the one table.

An engine turns the prompts a model rendered into responses (`mix_eval.models.engine`
says what it must offer). Each entry names the module and class that implement it,
imported only when a run uses it, so this table costs nothing to read: the settings
check names and flags against it, `mix_eval.models.engine` starts what it names.

Adding an engine is a module implementing ``Engine`` and one entry here (with the
settings only it reads, which are then refused with the other engines and recorded in
the run manifest, and the package it runs on, whose version the manifest records).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class EngineEntry:
    """Where an engine is implemented, and what only it reads."""

    module: str
    cls: str
    label: str  # the engine as messages name it
    # what ``--help`` says of it after its name (None: the name alone)
    description: Optional[str] = None
    # `GenerationSettings` fields read by this engine alone: given to another, they are refused
    flags: tuple[str, ...] = ()
    # the package it runs on, whose version the run manifest records (None: mix_eval's own requirements)
    package: Optional[str] = None


ENGINES: dict[str, EngineEntry] = {
    "hf": EngineEntry("mix_eval.models.hf_engine", "TransformersEngine", "transformers",
                      description="transformers generate, the reference's"),
    "vllm": EngineEntry("mix_eval.models.vllm_engine", "VLLMEngine", "vLLM",
                        flags=("tensor_parallel_size", "data_parallel_size", "gpu_memory_utilization",
                               "max_model_len", "distributed_executor_backend"),
                        package="vllm"),
}
DEFAULT_ENGINE = "hf"


def engine_flags() -> tuple[str, ...]:
    """Every setting that some engine reads alone, in the table's order, each once."""
    return tuple(dict.fromkeys(flag for entry in ENGINES.values() for flag in entry.flags))


def engine_packages() -> tuple[str, ...]:
    """The packages the engines run on, beyond mix_eval's own requirements."""
    return tuple(entry.package for entry in ENGINES.values() if entry.package)


def engine_flag_owners(flag: str) -> list[str]:
    """The engines that read a setting of their own (empty for a setting of every engine)."""
    return [name for name, entry in ENGINES.items() if flag in entry.flags]


def engines_help() -> str:
    """The engines for ``--backend``'s help: ``hf (what it is) or vllm``."""
    return " or ".join(name if e.description is None else f"{name} ({e.description})" for name, e in ENGINES.items())
