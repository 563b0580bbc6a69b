"""run_manifest.json: what made a folder's numbers, written by evaluate and compute_metrics,
with no key or credential-bearing URL in it."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import sys
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace
from typing import Optional

import pytest
from conftest import fake_server, judge_reply, make_responses

import mix_eval
from mix_eval import manifest
from mix_eval.compute_metrics import main as compute_main
from mix_eval.data import PACKAGE_DATA, VERSION_FINGERPRINTS, fingerprint
from mix_eval.folders import JUDGE_REPORT_FILE, MANIFEST_FILE, status_path
from mix_eval.llm.pricing import GIVEN
from mix_eval.manifest import checkpoint_revision, endpoint_host
from mix_eval.responses import write_status
from mix_eval.settings import DataSettings, JudgeSettings, ScoringSettings
from mix_eval.models.tiny import CHAT_TEMPLATE

VERSION = "2024-06-01"
ENV_SECRET = "sk-planted-secret-env-5f3a"
URL_SECRET = "sk-planted-secret-url-9c1e"
QUERY_SECRET = "sk-planted-secret-query-77b0"

server = fake_server(reply=judge_reply)


def read_manifest(vdir: Path) -> tuple[dict, str]:
    text = (vdir / MANIFEST_FILE).read_text(encoding="utf-8")
    return json.loads(text), text


@pytest.mark.slow
def test_evaluate_records_what_made_the_numbers_and_no_secret(tmp_path, server, judge_env, tiny_chat, data_path,
                                                              monkeypatch):
    from mix_eval.evaluate import main as evaluate_main

    monkeypatch.setenv("MODEL_PARSER_API", ENV_SECRET)
    port = server.base_url.split(":")[2].split("/")[0]
    url = f"http://user:{URL_SECRET}@127.0.0.1:{port}/v1"
    out = tmp_path / "out"
    assert evaluate_main(["--model_name", "local_chat", "--model_path", str(tiny_chat), "--benchmark",
                          "mixeval_hard", "--version", VERSION, "--batch_size", "4", "--data_path", str(data_path),
                          "--output_dir", str(out), "--limit", "3", "--max_new_tokens", "2",
                          "--api_base_url", url, "--api_parallel_num", "4"]) == 0
    assert len(server.chat_requests()) == 6
    vdir = out / "local_chat" / "mixeval_hard" / VERSION
    m, text = read_manifest(vdir)
    for secret in (ENV_SECRET, URL_SECRET, "user:"):
        assert secret not in text

    model = m["model"]
    assert (model["model_name"], model["kind"], model["path"]) == ("local_chat", "chat", str(tiny_chat))
    assert model["revision"]["source"] == "local folder" and len(model["revision"]["sha256"]) == 64
    assert {"config.json", "tokenizer.json", "chat_template.jinja"} <= set(model["revision"]["hashed_files"])
    assert model["revision"]["weights_by_name_and_size"] == ["model.safetensors"]  # no index in the tiny model
    assert model["chat_template_sha256"] == hashlib.sha256(CHAT_TEMPLATE.encode()).hexdigest()

    gen = m["generation"]
    assert gen["settings"]["max_new_tokens"] == 2 and gen["settings"]["limit"] == 3
    assert gen["settings"]["batch_size"] == 4 and "api_base_url" not in gen["settings"]
    assert (gen["dtype"], gen["backend"], gen["device"]) == ("float32", "hf", "CPU")
    assert gen["versions"] == {"python": platform.python_version(), "torch": metadata.version("torch"),
                               "transformers": metadata.version("transformers"),
                               "vllm": gen["versions"]["vllm"], "mix_eval": mix_eval.__version__}
    assert set(gen["splits"]) == {"close_freeform_hard", "close_multichoice_hard"}

    data = m["data"]
    assert data["fingerprints"] == {k: v for k, v in VERSION_FINGERPRINTS[VERSION].items() if k.endswith("_hard")}
    assert data["published_content"] is True

    for label, tag in (("free_form", "ff"), ("multiple_choice", "mp")):
        judge = m["judges"][label]
        assert judge["parser"] == "model" and judge["judge"] == "gpt-3.5-turbo-0125"
        assert judge["judged_file"] == f"judge_results_{tag}_model_judge_gpt-3.5-turbo-0125.jsonl"
        assert (vdir / judge["judged_file"]).is_file()
        assert judge["provider"] == "openai" and judge["endpoint_host"] == f"127.0.0.1:{port}"
        assert judge["params"]["max_tokens"] == 999 and judge["judge_mode"] == "live"
        assert "first_call" in judge and "last_call" in judge
    first_scored = m["scoring"]["scored"]

    # A rescoring from the judged files, elsewhere (no key, no URL): the manifest is
    # rewritten and keeps what only the generating and judging runs knew.
    monkeypatch.delenv("MODEL_PARSER_API")
    (vdir / MANIFEST_FILE).write_text(text.replace(first_scored, "2000-01-01T00:00:00+00:00"), encoding="utf-8")
    assert compute_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--model_response_dir", str(out),
                         "--compute_score_from_judged_file"]) == 0
    again, _ = read_manifest(vdir)
    assert again["scoring"]["scored"] != "2000-01-01T00:00:00+00:00"
    assert again["generation"]["device"] == "CPU" and again["generation"]["versions"] == gen["versions"]
    assert again["judges"] == m["judges"] and again["model"] == m["model"]


def test_scoring_responses_made_elsewhere_records_what_it_knows(tmp_path, clean_env):
    root = tmp_path / "responses"
    vdir = make_responses(root, "my_model", "mixeval_hard", 20)
    assert compute_main(["--benchmark", "mixeval_hard", "--version", VERSION, "--model_response_dir", str(root),
                         "--free_form_parser", "rule", "--multi_choice_parser", "rule"]) == 0
    m, _ = read_manifest(vdir)
    assert m["model"]["folder"] == "my_model" and m["model"]["path"] is None and m["model"]["revision"] is None
    assert m["generation"]["settings"] is None and m["generation"]["device"] is None
    assert m["generation"]["versions"] is None and m["generation"]["splits"] == {}
    assert m["data"]["published_content"] is True
    assert m["judges"] == {"free_form": {"parser": "rule", "judged_file": "judge_results_ff_rule.jsonl"},
                           "multiple_choice": {"parser": "rule", "judged_file": "judge_results_mp_rule.jsonl"}}


def test_a_judge_url_with_keys_leaves_only_its_host(tmp_path, clean_env):
    clean_env.setenv("MODEL_PARSER_API", ENV_SECRET)
    url = f"http://user:{URL_SECRET}@127.0.0.1:8123/v1?key={QUERY_SECRET}"
    root = tmp_path / "responses"
    vdir = make_responses(root, "my_model", "mixeval_hard", 5)
    settings = ScoringSettings(DataSettings("mixeval_hard", VERSION), JudgeSettings(api_base_url=url),
                               model_response_dir=str(root))
    assert manifest.record_scoring(settings, "my_model", vdir) == vdir / MANIFEST_FILE
    m, text = read_manifest(vdir)
    for secret in (ENV_SECRET, URL_SECRET, QUERY_SECRET, "user", "/v1"):
        assert secret not in text
    assert m["judges"]["free_form"]["endpoint_host"] == "127.0.0.1:8123"


@pytest.mark.parametrize("url, host", [
    ("https://u:p@api.example.com/v1?key=k", "api.example.com"),
    ("http://127.0.0.1:8000/v1/", "127.0.0.1:8000"),
    ("http://[::1]:9000/v1", "[::1]:9000"),
    ("localhost:8000/v1", "localhost:8000"),
    ("", None),
])
def test_endpoint_host(url, host):
    assert endpoint_host(url) == host


def test_checkpoint_revisions_from_the_hub_cache_and_local_folders(tmp_path, monkeypatch, tiny_chat):
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--my-org--my-model"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (snapshot / "chat_template.jinja").write_text("{{ messages }}")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(manifest, "hub_cache", lambda: tmp_path / "hub")
    hub = {"source": "hub", "repo": "my-org/my-model", "commit": commit}
    assert checkpoint_revision("my-org/my-model") == (hub, snapshot)  # a Hub id, resolved offline
    assert checkpoint_revision(str(snapshot)) == (hub, snapshot)  # a snapshot folder given as the path
    assert checkpoint_revision("my-org/not-cached")[0] == {"source": "hub", "repo": "my-org/not-cached",
                                                           "commit": None}
    assert manifest.chat_template_sha256(snapshot) == hashlib.sha256(b"{{ messages }}").hexdigest()

    copy = Path(shutil.copytree(tiny_chat, tmp_path / "copy"))
    digest = checkpoint_revision(str(copy))[0]["sha256"]
    assert checkpoint_revision(str(tiny_chat))[0]["sha256"] == digest  # content, not place
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "rope_theta": 1.0}))
    changed = checkpoint_revision(str(copy))[0]
    assert changed["sha256"] != digest
    (copy / "model.safetensors.index.json").write_text('{"weight_map": {}}')
    indexed = checkpoint_revision(str(copy))[0]
    assert indexed["weights_by_name_and_size"] == [] and "model.safetensors.index.json" in indexed["hashed_files"]


def test_the_device_is_read_from_a_torch_already_imported_only(monkeypatch):
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert manifest.current_device() is None  # never imports torch itself
    names = ["NVIDIA H100 80GB HBM3"] * 2 + ["NVIDIA A10"]
    cuda = SimpleNamespace(is_available=lambda: True, device_count=lambda: len(names),
                           get_device_name=lambda i: names[i])
    monkeypatch.setitem(sys.modules, "torch", SimpleNamespace(cuda=cuda))
    assert manifest.current_device() == "NVIDIA H100 80GB HBM3 × 2 + NVIDIA A10 × 1"
    cuda.is_available = lambda: False
    assert manifest.current_device() == "CPU"


# ---------------------------------------------------------------- each writing path, the whole file compared

FF, MC = "close_freeform_hard", "close_multichoice_hard"
HARD = f"mixeval-{VERSION}/mixeval-hard"
# 2023-11-14T22:13:20Z and 100.5 s later (the half second is cut by the manifest's seconds)
OLDER, NEWER = 1_700_000_000, 1_700_000_100.5


def _status(vdir: Path, split: str, args: dict, *, state: str = "complete", elapsed: float = 12.5,
            mtime: float = OLDER) -> Path:
    path = status_path(vdir, split)
    write_status(path, args, batch_id=3, time_elapsed=elapsed, state=state)
    os.utime(path, (mtime, mtime))
    return path


def _lines(path: Path, lines: list) -> None:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")


def _changed_data(root: Path) -> tuple[str, str]:
    """A data folder for VERSION whose free-form hard split differs from the published one by
    one item and whose multiple-choice hard split is missing; returns its path and the new
    free-form fingerprint."""
    src = PACKAGE_DATA / HARD / "free-form.json"
    items = json.loads(src.read_text(encoding="utf-8"))
    first = next(iter(items))
    items[first] = {**items[first], "prompt": items[first]["prompt"] + " (changed)"}
    dst = root / HARD / "free-form.json"
    dst.parent.mkdir(parents=True)
    dst.write_text(json.dumps(items), encoding="utf-8")
    return str(root), fingerprint(items.values())


def _write_old(vdir: Path, old: dict) -> None:
    vdir.mkdir(parents=True, exist_ok=True)
    (vdir / MANIFEST_FILE).write_text(json.dumps(old), encoding="utf-8")


OLD_JUDGES = {"free_form": {"parser": "rule", "judged_file": "judge_results_ff_rule.jsonl"},
              "multiple_choice": {"parser": "rule", "judged_file": "judge_results_mp_rule.jsonl"}}
OLD_SCORING = {"scored": "2020-01-02T03:04:05+00:00", "versions": {"python": "3.0", "mix_eval": "0.0"}}
PUBLISHED = {"benchmark": "mixeval_hard", "version": VERSION, "fingerprints": {
    FF: VERSION_FINGERPRINTS[VERSION][FF], MC: VERSION_FINGERPRINTS[VERSION][MC]}, "published_content": True}


def test_record_generation_of_an_api_model_writes_every_field(tmp_path):
    """An API model's generation: its catalog id and endpoint, the named settings only, device
    API, this machine's versions, the newest status file's time, per split its state, its
    thinking settings, counts, tokens and cost; the judges and scoring kept from before."""
    vdir = tmp_path / "out" / "deepseek_v2" / "mixeval_hard" / VERSION
    _write_old(vdir, {"judges": OLD_JUDGES, "scoring": OLD_SCORING, "generation": {"device": "old", "versions": {}}})
    data, ff_print = _changed_data(tmp_path / "data")
    args = {"model_name": "deepseek_v2", "max_new_tokens": 64, "batch_size": 8, "limit": 2, "model_price": [1.0, 2.0],
            "api_base_url": f"http://u:{URL_SECRET}@judge:1/v1", "api_key": ENV_SECRET}
    _status(vdir, FF, {**args, "reasoning_effort": "low", "thinking_budget": None}, mtime=NEWER)
    _status(vdir, MC, {**args, "thinking_budget": 100}, state="in_progress", elapsed=3.0, mtime=OLDER)
    _lines(vdir / f"deepseek_v2_{FF}.jsonl", [
        {"id": "0", "response": "a", "usage": {"prompt_tokens": 10, "completion_tokens": 5},
         "thinking_cut_off": False, "reasoning_tokens": 3},
        {"id": "1", "response": "", "usage": {"prompt_tokens": 20, "completion_tokens": 7}, "thinking_cut_off": True},
        {"id": "1", "response": "again", "usage": {"prompt_tokens": 900, "completion_tokens": 900}},
    ])
    assert manifest.record_generation(vdir, "deepseek_v2", "mixeval_hard", VERSION, data_path=data,
                                      generated=True) == vdir / MANIFEST_FILE
    m, text = read_manifest(vdir)
    assert URL_SECRET not in text and ENV_SECRET not in text
    assert m == {
        "format": 1,
        "model": {"folder": "deepseek_v2", "model_name": "deepseek_v2", "kind": "api", "path": "deepseek-chat",
                  "revision": None, "chat_template_sha256": None, "endpoint_host": "api.deepseek.com"},
        "generation": {
            "settings": {"max_new_tokens": 64, "batch_size": 8, "limit": 2},
            "dtype": None, "backend": "hf", "device": "API", "versions": manifest.library_versions(),
            "last_written": "2023-11-14T22:15:00+00:00",
            "splits": {
                FF: {"status": "complete", "time_elapsed": 12.5, "thinking_settings": {"reasoning_effort": "low"},
                     "thinking": {"answers": 2, "with_thinking": 2, "cut_off": 1},
                     "tokens": {"prompt": 30, "completion": 12, "reasoning": 3, "answers_with_usage": 2},
                     "cost_usd": 5.4e-05, "price": {"input": 1.0, "output": 2.0, "from": GIVEN},
                     "model_mode": "live"},
                MC: {"status": "in_progress", "time_elapsed": 3.0, "thinking_settings": {"thinking_budget": 100}},
            },
        },
        "data": {"benchmark": "mixeval_hard", "version": VERSION, "fingerprints": {FF: ff_print, MC: None},
                 "published_content": None},
        "judges": OLD_JUDGES,
        "scoring": OLD_SCORING,
        "derived_from": None,
    }


def _checkpoint(folder: Path, template: str = "{{ chat }}") -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "llama"}', encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": template}), encoding="utf-8")
    (folder / "model.safetensors").write_bytes(b"\0" * 10)
    return folder


def _gpu(monkeypatch, *names: str) -> None:
    cuda = SimpleNamespace(is_available=lambda: True, device_count=lambda: len(names),
                           get_device_name=lambda i: names[i])
    monkeypatch.setitem(sys.modules, "torch", SimpleNamespace(cuda=cuda))


def test_record_generation_of_a_local_model_writes_every_field(tmp_path, monkeypatch):
    """A local checkpoint generated here: its folder's revision and tokenizer template, the
    device this process sees, the catalog's dtype, the status file's backend and data path
    (before the one passed), and nothing old kept of what this run knows itself."""
    _gpu(monkeypatch, "NVIDIA A10")
    ckpt = _checkpoint(tmp_path / "ckpt")
    vdir = tmp_path / "out" / "mine" / "mixeval_hard" / VERSION
    _write_old(vdir, {"model": {"path": str(ckpt), "revision": {"old": 1}, "chat_template_sha256": "old"},
                      "generation": {"device": "old", "versions": {"old": 1}}, "scoring": ["not an object"]})
    data, ff_print = _changed_data(tmp_path / "data")
    args = {"model_name": "local_chat", "model_path": str(ckpt), "backend": "vllm", "data_path": data,
            "max_gpu_memory": "20GiB", "tensor_parallel_size": 2, "output_dir": "elsewhere"}
    _status(vdir, MC, args, state="complete", elapsed=7, mtime=NEWER)
    (vdir / f"status_{FF}.json").write_text("{not json", encoding="utf-8")  # unreadable: left out
    assert manifest.record_generation(vdir, "mine", "mixeval_hard", VERSION, data_path=str(tmp_path / "nowhere"),
                                      generated=True) == vdir / MANIFEST_FILE
    m, _ = read_manifest(vdir)
    assert m == {
        "format": 1,
        "model": {"folder": "mine", "model_name": "local_chat", "kind": "chat", "path": str(ckpt),
                  "revision": manifest.folder_digest(ckpt),
                  "chat_template_sha256": hashlib.sha256(b"{{ chat }}").hexdigest(), "endpoint_host": None},
        "generation": {
            "settings": {"backend": "vllm", "max_gpu_memory": "20GiB", "tensor_parallel_size": 2},
            "dtype": "bfloat16", "backend": "vllm", "device": "NVIDIA A10 × 1",
            "versions": manifest.library_versions(),
            "last_written": "2023-11-14T22:15:00+00:00",
            "splits": {MC: {"status": "complete", "time_elapsed": 7}},
        },
        "data": {"benchmark": "mixeval_hard", "version": VERSION, "fingerprints": {FF: ff_print, MC: None},
                 "published_content": None},
        "judges": {"free_form": None, "multiple_choice": None},
        "scoring": None,
        "derived_from": None,
    }

    # Found complete on another machine (nothing generated here): the device and versions
    # are the generating run's; the packaged data is the published one.
    args = {k: v for k, v in args.items() if k != "data_path"}
    _status(vdir, MC, args, state="complete", elapsed=7, mtime=NEWER)
    _write_old(vdir, {**m, "generation": {"device": "NVIDIA H100 × 8", "versions": {"torch": "1.0"}}})
    manifest.record_generation(vdir, "mine", "mixeval_hard", VERSION, generated=False)
    again, _ = read_manifest(vdir)
    assert again["generation"]["device"] == "NVIDIA H100 × 8" and again["generation"]["versions"] == {"torch": "1.0"}
    assert again["generation"]["dtype"] == "bfloat16" and again["data"] == PUBLISHED


NOW = "2026-12-07T12:00:00+00:00"
RULE = JudgeSettings(free_form_parser="rule", multi_choice_parser="rule")
RULE_JUDGES = {"free_form": {"parser": "rule", "judged_file": "judge_results_ff_rule.jsonl"},
               "multiple_choice": {"parser": "rule", "judged_file": "judge_results_mp_rule.jsonl"}}


def test_record_scoring_where_the_checkpoint_is_not_keeps_what_generation_found(tmp_path, monkeypatch):
    """Scored on a machine without the checkpoint: its revision and template, the device and
    versions are the generating run's; the data is the scoring settings' own; scored now, by
    this Python and mix_eval; an imported run's section kept with its credentials left out."""
    monkeypatch.setattr(manifest, "_now", lambda: NOW)
    _gpu(monkeypatch, "NVIDIA A10")  # what this process sees is not what generated the responses
    data, ff_print = _changed_data(tmp_path / "data")
    vdir = tmp_path / "out" / "mine" / "mixeval_hard" / VERSION
    path = str(tmp_path / "gone" / "ckpt")
    _write_old(vdir, {"model": {"path": path, "revision": {"sha256": "abc"}, "chat_template_sha256": "def"},
                      "generation": {"device": "NVIDIA H100 × 8", "versions": {"torch": "1.0"}},
                      "judges": {"free_form": {"parser": "model"}}, "scoring": OLD_SCORING,
                      "imported": {"framework": "lm-eval", "api_key": ENV_SECRET, "runs": [{"token": "t", "n": 1}]}})
    _status(vdir, FF, {"model_name": "mine", "model_path": path, "dtype": "float16"}, elapsed=2.5)
    settings = ScoringSettings(DataSettings("mixeval_hard", VERSION, data_path=data), RULE,
                               model_response_dir=str(tmp_path / "out"))
    assert manifest.record_scoring(settings, "mine", vdir) == vdir / MANIFEST_FILE
    m, text = read_manifest(vdir)
    assert ENV_SECRET not in text
    assert m == {
        "format": 1,
        "model": {"folder": "mine", "model_name": "mine", "kind": None, "path": path, "revision": {"sha256": "abc"},
                  "chat_template_sha256": "def", "endpoint_host": None},
        "generation": {"settings": {"dtype": "float16"}, "dtype": "float16", "backend": "hf",
                       "device": "NVIDIA H100 × 8", "versions": {"torch": "1.0"},
                       "last_written": "2023-11-14T22:13:20+00:00",
                       "splits": {FF: {"status": "complete", "time_elapsed": 2.5}}},
        "data": {"benchmark": "mixeval_hard", "version": VERSION, "fingerprints": {FF: ff_print, MC: None},
                 "published_content": None},
        "judges": RULE_JUDGES,
        "scoring": {"scored": NOW, "versions": {"python": platform.python_version(), "mix_eval": mix_eval.__version__}},
        "derived_from": None,
        "imported": {"framework": "lm-eval", "runs": [{"n": 1}]},
    }


def test_record_scoring_of_a_derived_folder_reads_its_source_manifest(tmp_path, monkeypatch):
    """A MixEval-Hard folder derived from a MixEval folder: its benchmark is the one named,
    its model and generation the source's manifest's, its origin relative to the output root."""
    monkeypatch.setattr(manifest, "_now", lambda: NOW)
    source = tmp_path / "out" / "mine" / "mixeval" / VERSION
    _write_old(source, {"model": {"path": None, "revision": {"kept": 1}, "chat_template_sha256": "t"},
                        "generation": {"device": "TPU", "versions": {"v": 1}}})
    vdir = tmp_path / "out" / "mine_hard" / "mixeval_hard" / VERSION
    _write_old(vdir, {"model": {"path": None, "revision": {"not": "read"}}})
    _status(vdir, MC, {"model_name": "mine"}, elapsed=1.0)
    settings = ScoringSettings(DataSettings("mixeval", VERSION), RULE, model_response_dir=str(tmp_path / "out"))
    assert manifest.record_scoring(settings, "mine_hard", vdir, benchmark="mixeval_hard", source=source) \
        == vdir / MANIFEST_FILE
    m, _ = read_manifest(vdir)
    assert m == {
        "format": 1,
        "model": {"folder": "mine_hard", "model_name": "mine", "kind": None, "path": None, "revision": {"kept": 1},
                  "chat_template_sha256": "t", "endpoint_host": None},
        "generation": {"settings": {}, "dtype": "auto", "backend": "hf", "device": "TPU", "versions": {"v": 1},
                       "last_written": "2023-11-14T22:13:20+00:00",
                       "splits": {MC: {"status": "complete", "time_elapsed": 1.0}}},
        "data": PUBLISHED,
        "judges": RULE_JUDGES,
        "scoring": {"scored": NOW, "versions": {"python": platform.python_version(), "mix_eval": mix_eval.__version__}},
        "derived_from": os.path.join("mine", "mixeval", VERSION),
    }


FF_JUDGED = "judge_results_ff_model_judge_gpt-3.5-turbo-0125.jsonl"
MC_JUDGED = "judge_results_mp_model_judge_gpt-3.5-turbo-0125.jsonl"
NO_CALL = dict.fromkeys(("provider", "endpoint_host", "revision", "params", "judge_mode", "first_call", "last_call"))


def _score(tmp_path: Path, judge: JudgeSettings, report: dict, old_judges: dict) -> dict:
    vdir = tmp_path / "out" / "mine" / "mixeval_hard" / VERSION
    _write_old(vdir, {"judges": old_judges})
    (vdir / JUDGE_REPORT_FILE).write_text(json.dumps(report), encoding="utf-8")
    settings = ScoringSettings(DataSettings("mixeval_hard", VERSION), judge, model_response_dir=str(tmp_path / "out"))
    assert manifest.record_scoring(settings, "mine", vdir) == vdir / MANIFEST_FILE
    return read_manifest(vdir)[0]["judges"]


def test_rescoring_from_judged_files_takes_the_judge_from_the_report_and_the_last_manifest(tmp_path, clean_env):
    """No judge called: each kind's judge is what judge_report.json says of the same judge
    (its endpoint_host before its endpoint, its params without credentials), else what the
    last manifest said of the same judged file and judge, fields the report left null filled."""
    judge = JudgeSettings(compute_score_from_judged_file=True)
    report = {
        "free_form": {"judge": "gpt-3.5-turbo-0125", "provider": "openai", "judge_mode": "batch",
                      "params": {"max_tokens": 999, "api_key": ENV_SECRET, "extra": [{"auth_header": "x", "n": 2}]},
                      "first_call": "2026-01-01T00:00:00+00:00", "last_call": "2026-01-01T00:01:00+00:00",
                      "endpoint_host": "https://host-a:1/v1", "endpoint": "http://host-b:2/v1"},
        "multiple_choice": {"judge": "gpt-4", "provider": "not this judge's", "endpoint_host": "host-c"},
    }
    old = {"free_form": {"judged_file": FF_JUDGED, "judge": "gpt-3.5-turbo-0125", "provider": "azure",
                         "revision": {"r": 1}, "judge_mode": None},
           "multiple_choice": {"judged_file": MC_JUDGED, "judge": "gpt-3.5-turbo-0125", "provider": "azure",
                               "endpoint_host": "host-d", "params": {"p": 1}, "first_call": None}}
    assert _score(tmp_path, judge, report, old) == {
        "free_form": {"parser": "model", "judged_file": FF_JUDGED, "judge": "gpt-3.5-turbo-0125", "provider": "openai",
                      "endpoint_host": "host-a:1", "revision": {"r": 1},
                      "params": {"max_tokens": 999, "extra": [{"n": 2}]}, "judge_mode": "batch",
                      "first_call": "2026-01-01T00:00:00+00:00", "last_call": "2026-01-01T00:01:00+00:00"},
        "multiple_choice": {"parser": "model", "judged_file": MC_JUDGED, "judge": "gpt-3.5-turbo-0125",
                            **NO_CALL, "provider": "azure", "endpoint_host": "host-d", "params": {"p": 1}},
    }


def test_a_judge_called_now_fills_what_the_report_did_not_say(tmp_path, clean_env):
    """A judge this run called: the report's fields win, its settings fill the rest (an
    endpoint alone gives its host); a last manifest of another judged file or judge adds nothing."""
    clean_env.setenv("MODEL_PARSER_API", ENV_SECRET)
    judge = JudgeSettings(api_base_url="http://127.0.0.1:8123/v1")
    report = {"free_form": {"judge": "gpt-3.5-turbo-0125", "provider": "from the report",
                            "endpoint": f"http://u:{URL_SECRET}@host-b:2/v1"}}
    old = {"free_form": {"judged_file": FF_JUDGED, "judge": "another judge", "revision": {"r": 1}},
           "multiple_choice": {"judged_file": "judge_results_mp_rule.jsonl", "judge": "gpt-3.5-turbo-0125",
                               "first_call": "old"}}
    params = {"max_tokens": 999, "response_format": {"type": "text"}}
    assert _score(tmp_path, judge, report, old) == {
        "free_form": {"parser": "model", "judged_file": FF_JUDGED, "judge": "gpt-3.5-turbo-0125", **NO_CALL,
                      "provider": "from the report", "endpoint_host": "host-b:2", "params": params,
                      "judge_mode": "live"},
        "multiple_choice": {"parser": "model", "judged_file": MC_JUDGED, "judge": "gpt-3.5-turbo-0125", **NO_CALL,
                            "provider": "openai", "endpoint_host": "127.0.0.1:8123", "params": params,
                            "judge_mode": "live"},
    }


def test_a_local_judge_is_recorded_with_its_revision_and_generation_settings(tmp_path, clean_env):
    """A local judge: provider local, no endpoint, its checkpoint's revision, and the new-token
    cap, backend and batch size it judged with."""
    from mix_eval.judges.local import JUDGE_MAX_NEW_TOKENS

    ckpt = _checkpoint(tmp_path / "judge-ckpt")
    judge = JudgeSettings(judge_model_id=str(ckpt), batch_size_judge=3)
    name = manifest.judge_in_file_name(str(ckpt))
    entry = {"parser": "model", "judge": str(ckpt), **NO_CALL, "provider": "local",
             "revision": manifest.folder_digest(ckpt),
             "params": {"max_new_tokens": JUDGE_MAX_NEW_TOKENS, "backend": "hf", "batch_size": 3}}
    assert _score(tmp_path, judge, {}, {}) == {
        "free_form": {**entry, "judged_file": f"judge_results_ff_model_judge_{name}.jsonl"},
        "multiple_choice": {**entry, "judged_file": f"judge_results_mp_model_judge_{name}.jsonl"},
    }


@pytest.mark.parametrize("name", ["None", "XXXX"])
def test_a_report_line_that_names_no_judge_is_no_judges(tmp_path, clean_env, name):
    """A judge_report.json line without a judge is not taken for any judge's, whatever its name."""
    judge = JudgeSettings(freeform_judge=name, compute_score_from_judged_file=True)
    report = {"free_form": {"provider": "unknown"}}
    assert _score(tmp_path, judge, report, {})["free_form"]["provider"] is None


def test_record_import_writes_the_imported_section_and_later_rewrites_keep_it(tmp_path):
    """A folder made from another framework's run: its section without credentials' names,
    the API model's endpoint host from its status file; a later generation record keeps it."""
    data, ff_print = _changed_data(tmp_path / "data")
    vdir = tmp_path / "out" / "imp" / "mixeval_hard" / VERSION
    vdir.mkdir(parents=True)
    _status(vdir, FF, {"model_name": "my_api", "model_id": "org/model",
                       "model_base_url": f"http://u:{URL_SECRET}@myhost:9/v1"})
    imported = {"framework": "lm-eval", "version": "0.4.2", "model": "org/model",
                "settings": {"temperature": 0, "OPENAI_API_KEY": ENV_SECRET, "auth": {"user": "u"}}}
    assert manifest.record_import(vdir, "imp", "mixeval_hard", VERSION, imported, data_path=data) \
        == vdir / MANIFEST_FILE
    m, text = read_manifest(vdir)
    assert ENV_SECRET not in text and URL_SECRET not in text
    section = {"framework": "lm-eval", "version": "0.4.2", "model": "org/model", "settings": {"temperature": 0}}
    assert m == {
        "format": 1,
        "model": {"folder": "imp", "model_name": "my_api", "kind": None, "path": "org/model", "revision": None,
                  "chat_template_sha256": None, "endpoint_host": "myhost:9"},
        "generation": {"settings": {}, "dtype": None, "backend": "hf", "device": "API", "versions": None,
                       "last_written": "2023-11-14T22:13:20+00:00",
                       "splits": {FF: {"status": "complete", "time_elapsed": 12.5}}},
        "data": {"benchmark": "mixeval_hard", "version": VERSION, "fingerprints": {FF: ff_print, MC: None},
                 "published_content": None},
        "judges": {"free_form": None, "multiple_choice": None},
        "scoring": None,
        "derived_from": None,
        "imported": section,
    }
    manifest.record_generation(vdir, "imp", "mixeval_hard", VERSION, generated=False)
    again, _ = read_manifest(vdir)
    assert again["imported"] == section and again["data"] == PUBLISHED


def _model_of(tmp_path: Path, args: dict, old: Optional[dict] = None) -> dict:
    vdir = tmp_path / "out" / "m" / "mixeval_hard" / VERSION
    _write_old(vdir, {"model": old or {}})
    _status(vdir, FF, args)
    manifest.record_generation(vdir, "m", "mixeval_hard", VERSION, generated=False)
    return read_manifest(vdir)[0]["model"]


def test_the_chat_template_recorded_is_the_one_the_model_was_prompted_with(tmp_path):
    """The catalog's own template when it has one (not the tokenizer's), none for a base model,
    the tokenizer's otherwise; a folder that has none is none even if the last manifest had one;
    a revision is kept from the last manifest only for the same checkpoint."""
    from mix_eval.models.catalog import get_spec

    ckpt = _checkpoint(tmp_path / "ckpt")
    digest = manifest.folder_digest(ckpt)
    qwen = _model_of(tmp_path, {"model_name": "qwen_7b_chat", "model_path": str(ckpt)})
    assert qwen == {"folder": "m", "model_name": "qwen_7b_chat", "kind": "chat", "path": str(ckpt), "revision": digest,
                    "chat_template_sha256": hashlib.sha256(get_spec("qwen_7b_chat").chat_template.encode()).hexdigest(),
                    "endpoint_host": None}
    base = _model_of(tmp_path, {"model_name": "local_base", "model_path": str(ckpt)})
    assert (base["kind"], base["revision"], base["chat_template_sha256"]) == ("base", digest, None)

    (ckpt / "tokenizer_config.json").write_text("{}", encoding="utf-8")
    plain = _model_of(tmp_path, {"model_name": "local_chat", "model_path": str(ckpt)},
                      {"path": str(ckpt), "chat_template_sha256": "old"})
    assert plain["chat_template_sha256"] is None
    gone = str(tmp_path / "gone")
    other = _model_of(tmp_path, {"model_name": "local_chat", "model_path": gone},
                      {"path": str(ckpt), "revision": {"old": 1}, "chat_template_sha256": "old"})
    assert (other["revision"], other["chat_template_sha256"]) == (None, None)


def test_hub_cache_follows_huggingface_hub_else_the_environment(monkeypatch, tmp_path):
    """huggingface_hub's own setting when it is installed; without it HF_HUB_CACHE, else
    HF_HOME/hub, else ~/.cache/huggingface/hub."""
    from huggingface_hub import constants

    assert manifest.hub_cache() == Path(constants.HF_HUB_CACHE)
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # not installed
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("HF_HOME", raising=False)
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    assert manifest.hub_cache() == tmp_path / "home" / ".cache" / "huggingface" / "hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert manifest.hub_cache() == tmp_path / "hf" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    assert manifest.hub_cache() == tmp_path / "cache"


def test_chat_template_sha256_reads_the_files_a_tokenizer_would(tmp_path):
    """chat_template.jinja first, then chat_template.json, then tokenizer_config.json; several
    named templates hashed as sorted JSON; a file without a template is skipped; none: None."""
    def sha(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    folder = tmp_path / "tok"
    folder.mkdir()
    assert manifest.chat_template_sha256(folder) is None
    assert manifest.chat_template_sha256(None) is None
    (folder / "tokenizer_config.json").write_text(json.dumps({"chat_template": "from config ü"}), encoding="utf-8")
    assert manifest.chat_template_sha256(folder) == sha("from config ü")
    (folder / "chat_template.json").write_text(json.dumps({"other": 1}), encoding="utf-8")  # no template: skipped
    assert manifest.chat_template_sha256(folder) == sha("from config ü")
    several = {"tool_use": "b", "default": "a"}
    (folder / "chat_template.json").write_text(json.dumps({"chat_template": several}), encoding="utf-8")
    assert manifest.chat_template_sha256(folder) == sha('{"default": "a", "tool_use": "b"}')
    (folder / "chat_template.json").write_text(json.dumps({"chat_template": "from json"}), encoding="utf-8")
    assert manifest.chat_template_sha256(folder) == sha("from json")
    (folder / "chat_template.jinja").write_text("from jinja ü", encoding="utf-8")
    assert manifest.chat_template_sha256(folder) == sha("from jinja ü")


def test_folder_digest_hashes_the_named_files_by_content_and_weights_by_size(tmp_path):
    """The named config and tokenizer files by content, the weight files (only those) by name
    and size when there is no weights index, the index by content when there is."""
    ckpt = _checkpoint(tmp_path / "ckpt")
    (ckpt / "README.md").write_text("not hashed", encoding="utf-8")
    (ckpt / "sub.bin").mkdir()  # a folder, not a weight file

    def digest(lines: list) -> str:
        return hashlib.sha256("".join(lines).encode()).hexdigest()

    def content(name: str) -> str:
        return f"{name}\0{hashlib.sha256((ckpt / name).read_bytes()).hexdigest()}\n"

    assert manifest.folder_digest(ckpt) == {
        "source": "local folder",
        "sha256": digest([content("config.json"), content("tokenizer_config.json"), "model.safetensors\0size 10\n"]),
        "hashed_files": ["config.json", "tokenizer_config.json"], "weights_by_name_and_size": ["model.safetensors"]}
    (ckpt / "model.safetensors.index.json").write_text("{}", encoding="utf-8")
    assert manifest.folder_digest(ckpt) == {
        "source": "local folder",
        "sha256": digest([content(n) for n in
                          ("config.json", "model.safetensors.index.json", "tokenizer_config.json")]),
        "hashed_files": ["config.json", "model.safetensors.index.json", "tokenizer_config.json"],
        "weights_by_name_and_size": []}


def test_checkpoint_revision_tells_hub_snapshots_from_local_folders(tmp_path, monkeypatch):
    """Only a folder named by a commit under ``models--*/snapshots`` is a Hub snapshot; a Hub id
    whose cached ref has no snapshot folder has its commit and no folder; a path that is neither
    a folder nor a Hub id names nothing."""
    commit = "89abcdef" * 5
    monkeypatch.setattr(manifest, "hub_cache", lambda: tmp_path / "hub")
    repo = tmp_path / "hub" / "models--org--name"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit + "\n", encoding="utf-8")
    assert checkpoint_revision("org/name") == ({"source": "hub", "repo": "org/name", "commit": commit}, None)
    for folder in (tmp_path / "local" / commit, tmp_path / "models--a--b" / "snapshots" / "main",
                   tmp_path / "x" / "snapshots" / commit):
        _checkpoint(folder)
        assert checkpoint_revision(str(folder)) == (manifest.folder_digest(folder), folder)
    assert checkpoint_revision(str(tmp_path / "not-there")) == (None, None)
    assert checkpoint_revision(None) == (None, None)


def test_no_gpu_seen_is_cpu(monkeypatch):
    """CUDA available with no device counted is the CPU."""
    _gpu(monkeypatch)
    assert manifest.current_device() == "CPU"


def test_scored_time_is_utc():
    """The scoring time is written in UTC, to the second."""
    now = dt.datetime.fromisoformat(manifest._now())
    assert now.utcoffset() == dt.timedelta(0) and now.microsecond == 0
    assert abs((dt.datetime.now(dt.timezone.utc) - now).total_seconds()) < 5


@pytest.mark.parametrize("dtype, device, name, expected", [
    ("float16", "CPU", "local_chat", "float16"),  # given: as given
    (None, None, "local_chat", None),  # nothing ran a model here or known of it
    (None, "API", "local_chat", None),
    (None, "CPU", "local_chat", "float32"),
    (None, "NVIDIA A10 × 1", "local_chat", "bfloat16"),  # the catalog's
    (None, "NVIDIA A10 × 1", "unregistered", "auto"),
])
def test_the_dtype_recorded_is_the_one_the_weights_were_loaded_in(dtype, device, name, expected):
    """--dtype when given, none for an API model or an unknown device, float32 on the CPU, else
    the catalog's dtype (auto for a model it does not know)."""
    assert manifest._dtype({"dtype": dtype, "model_name": name}, device) == expected


def test_library_versions_names_each_package_once():
    """Python, torch, transformers, each engine's package and mix_eval, read from metadata."""
    from mix_eval.engines import engine_packages

    versions = manifest.library_versions()
    assert list(versions) == ["python", "torch", "transformers", *engine_packages(), "mix_eval"]
    assert versions["python"] == platform.python_version() and versions["mix_eval"] == mix_eval.__version__
    assert versions["torch"] == metadata.version("torch")
    assert versions["transformers"] == metadata.version("transformers")


def test_record_scoring_without_status_files_knows_nothing_of_the_generation(tmp_path, monkeypatch):
    """Responses without status files (made elsewhere, by hand): no settings, dtype, backend,
    device, versions, time or splits; the model only by its folder's name. The default data
    path is the first holding the version: not a working folder's mix_eval/data of outputs."""
    monkeypatch.setattr(manifest, "_now", lambda: NOW)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mix_eval" / "data").mkdir(parents=True)
    vdir = make_responses(tmp_path / "out", "mine", "mixeval_hard", 3)
    settings = ScoringSettings(DataSettings("mixeval_hard", VERSION), RULE, model_response_dir=str(tmp_path / "out"))
    assert manifest.record_scoring(settings, "mine", vdir) == vdir / MANIFEST_FILE
    assert read_manifest(vdir)[0] == {
        "format": 1,
        "model": {"folder": "mine", "model_name": None, "kind": None, "path": None, "revision": None,
                  "chat_template_sha256": None, "endpoint_host": None},
        "generation": {"settings": None, "dtype": None, "backend": None, "device": None, "versions": None,
                       "last_written": None, "splits": {}},
        "data": PUBLISHED,
        "judges": RULE_JUDGES,
        "scoring": {"scored": NOW, "versions": {"python": platform.python_version(), "mix_eval": mix_eval.__version__}},
        "derived_from": None,
    }


def test_a_status_file_without_args_records_its_state_only(tmp_path):
    """A status file with no `args` (not written by mix_eval): its split's state, no model name
    nor settings, and nothing read from its missing arguments."""
    vdir = tmp_path / "out" / "m" / "mixeval_hard" / VERSION
    vdir.mkdir(parents=True)
    status = {"status": {"status": "complete", "time_elapsed": 1}}
    status_path(vdir, FF).write_text(json.dumps(status), encoding="utf-8")
    manifest.record_generation(vdir, "m", "mixeval_hard", VERSION, generated=False)
    m, _ = read_manifest(vdir)
    assert m["model"]["model_name"] is None and m["data"] == PUBLISHED
    assert {k: m["generation"][k] for k in ("settings", "dtype", "backend", "device", "splits")} == {
        "settings": {}, "dtype": None, "backend": "hf", "device": None,
        "splits": {FF: {"status": "complete", "time_elapsed": 1}}}


def test_the_report_spells_the_judge_as_it_was_named(tmp_path, clean_env):
    """A judge named as file names spell it (``org_judge``) is the report's ``org/judge``, and
    the manifest names it as the report does."""
    judge = JudgeSettings(freeform_judge="org_judge", compute_score_from_judged_file=True)
    report = {"free_form": {"judge": "org/judge", "provider": "vllm"}}
    entry = _score(tmp_path, judge, report, {})["free_form"]
    assert (entry["judge"], entry["provider"], entry["judged_file"]) == (
        "org/judge", "vllm", "judge_results_ff_model_judge_org_judge.jsonl")


def test_a_splits_answers_entry_counts_thinking_tokens_and_cost_from_its_first_lines(tmp_path):
    """What a split's entry says of the answers: the thinking settings given (None left out),
    the first line of each item counted (thinking, cut off: exactly True), tokens where lines
    count them (null where none does), and the cost at --model_price for an API model."""
    from mix_eval.folders import response_path

    status = {"args": {"model_name": "served", "model_base_url": "http://127.0.0.1:1/v1", "model_id": "m1",
                       "model_price": [1.0, 2.0], "reasoning_effort": "high", "thinking_budget": None,
                       "reasoning_tags": "think"}, "status": {}}
    settings = {"reasoning_effort": "high", "reasoning_tags": "think"}
    assert manifest._answers(tmp_path, "served", "close_freeform_hard", status) == {"thinking_settings": settings}
    lines = [{"id": "a", "response": "x", "thinking_cut_off": False, "reasoning_tokens": 5,
              "usage": {"prompt_tokens": 10, "completion_tokens": 20}},
             {"id": "b", "response": "", "thinking_cut_off": True, "reasoning_tokens": 7,
              "usage": {"prompt_tokens": 30, "completion_tokens": 40}},
             {"id": "c", "response": "y", "thinking_cut_off": "yes"},
             {"id": "a", "response": "again", "thinking_cut_off": True, "reasoning_tokens": 100,
              "usage": {"prompt_tokens": 1000, "completion_tokens": 1000}}]
    path = response_path(tmp_path, "served", "close_freeform_hard")
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    assert manifest._answers(tmp_path, "served", "close_freeform_hard", status) == {
        "thinking_settings": settings,
        "thinking": {"answers": 3, "with_thinking": 3, "cut_off": 1},
        "tokens": {"prompt": 40, "completion": 60, "reasoning": 12, "answers_with_usage": 2},
        "cost_usd": 0.00016, "price": {"input": 1.0, "output": 2.0, "from": GIVEN}, "model_mode": "live"}
    # a local model's lines: tokens but no cost; no thinking settings, no thinking
    local = {"args": {"model_name": "local_chat", "model_path": "tiny"}, "status": {}}
    path.write_text(json.dumps({"id": "a", "response": "x", "usage": {"prompt_tokens": 3}}) + "\n", encoding="utf-8")
    assert manifest._answers(tmp_path, "local_chat", "close_freeform_hard", local) == {}
    path.rename(response_path(tmp_path, "local_chat", "close_freeform_hard"))
    assert manifest._answers(tmp_path, "local_chat", "close_freeform_hard", local) == {
        "tokens": {"prompt": 3, "completion": 0, "reasoning": None, "answers_with_usage": 1}}
