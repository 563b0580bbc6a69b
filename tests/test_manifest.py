"""run_manifest.json: what made a folder's numbers, written by evaluate and compute_metrics,
with no key or credential-bearing URL in it."""
from __future__ import annotations

import hashlib
import json
import platform
import shutil
import sys
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import fake_server, judge_reply, make_responses

import mix_eval
from mix_eval import manifest
from mix_eval.compute_metrics import main as compute_main
from mix_eval.data import VERSION_FINGERPRINTS
from mix_eval.folders import MANIFEST_FILE
from mix_eval.manifest import checkpoint_revision, endpoint_host
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
