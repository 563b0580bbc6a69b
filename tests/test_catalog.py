"""The model catalog: every `--model_name` of the reference, with the reference's settings.

The facts are checked against ``tests/fixtures/reference/model_catalog.json`` (one record per
reference model); the tests that need no catalog run without it.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest
from conftest import REFERENCE, REPO

from mix_eval.models.catalog import SPECS
from mix_eval.models.spec import (
    DEFAULT_MAX_NEW_TOKENS,
    EOS,
    EOT,
    ModelSpec,
    resolve_gen_kwargs,
)

CATALOG = REFERENCE / "model_catalog.json"
N_MODELS = 120
# Names of ours beyond the reference's (the command-line OpenAI-compatible endpoint,
# which `mix_eval.models.factory` serves); none need be declared yet.
OUR_ADDITIONS = {"openai_compatible"}
REFERENCE_SPECS = {name: spec for name, spec in SPECS.items() if name not in OUR_ADDITIONS}

# What the catalog's stand-in tokenizer would give: eos 2, <|eot_id|> 128009.
STAND_IN_EOS = 2
STAND_IN_VOCAB = {"<|eot_id|>": 128009}

# catalog key -> ModelSpec attribute, where the value is compared as it is
SAME = {
    "name": "name",
    "kind": "kind",
    "model_id": "model_id",
    "dtype": "dtype",
    "attn_implementation": "attn_implementation",
    "trust_remote_code": "trust_remote_code",
    "use_fast_tokenizer": "use_fast_tokenizer",
    "max_input_length_closeend": "max_input_length_closeend",
    "sets_pad_token_to_eos": "sets_pad_token_to_eos",
    "system_message": "system_message",
    "custom_chat_template_single_turn": "chat_template",
    "base_url": "base_url",
    "fix_interval_second": "fix_interval_second",
}
AS_TUPLE = {"env_keys": "env_keys", "sdk": "sdk"}
MAX_NEW_TOKENS_KEYS = {"closeended_max_new_tokens", "max_new_tokens"}
NOTE_KEYS = {"loaded_via", "note"}
KNOWN_KEYS = set(SAME) | set(AS_TUPLE) | MAX_NEW_TOKENS_KEYS | NOTE_KEYS | {"gen_kwargs"}


def _catalog() -> dict[str, Any]:
    return json.loads(CATALOG.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def catalog() -> dict[str, Any]:
    return _catalog()


@pytest.fixture(scope="module")
def records(catalog) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in catalog["models"]}


@pytest.fixture(scope="module")
def kind_defaults(catalog) -> dict[str, int]:
    """The max new tokens by kind that `_about` states, for records that omit it."""
    m = re.search(r"Max new tokens: chat (\d+), base (\d+), api (\d+)", catalog["_about"])
    assert m, "the catalog's _about no longer states the max new tokens by kind"
    return {"chat": int(m[1]), "base": int(m[2]), "api": int(m[3])}


# ------------------------------------------------------------------ without the catalog

def test_catalog_has_all_reference_models():
    assert len(REFERENCE_SPECS) == N_MODELS
    assert all(isinstance(s, ModelSpec) and s.name == name for name, s in SPECS.items())


def test_specs_are_consistent():
    for spec in REFERENCE_SPECS.values():
        if spec.kind != "chat":
            assert spec.system_message is None and spec.chat_template is None, spec.name
        if spec.chat_template is not None:
            assert spec.chat_template.count("{{USER}}") == 1, spec.name
        if spec.kind == "api":
            assert spec.sdk, spec.name
            assert spec.closeended_max_new_tokens == DEFAULT_MAX_NEW_TOKENS["api"]
        else:
            assert not (spec.env_keys or spec.sdk or spec.base_url), spec.name


def test_resolve_gen_kwargs_replaces_token_names():
    kwargs = {"do_sample": True, "eos_token_id": [EOS, EOT], "pad_token_id": EOS, "top_p": 0.9}
    vocab = {"<|eot_id|>": 128009}
    assert resolve_gen_kwargs(kwargs, 7, vocab.get) == {
        "do_sample": True, "eos_token_id": [7, 128009], "pad_token_id": 7, "top_p": 0.9,
    }
    assert kwargs["eos_token_id"] == [EOS, EOT]  # the spec's mapping is left alone
    # literal ids and None stay; strings outside *_token_id keys are not token names
    assert resolve_gen_kwargs({"pad_token_id": 1, "eos_token_id": None, "stop_strings": [EOT]}, 7, vocab.get) \
        == {"pad_token_id": 1, "eos_token_id": None, "stop_strings": [EOT]}
    with pytest.raises(ValueError, match="no eos token"):
        resolve_gen_kwargs({"pad_token_id": EOS}, None, vocab.get)
    with pytest.raises(ValueError, match="<missing>"):
        resolve_gen_kwargs({"eos_token_id": ["<missing>"]}, 7, vocab.get)


def test_listing_shows_every_model():
    out = subprocess.run([sys.executable, "-m", "mix_eval.models"], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line.split()[1:] for line in out.stdout.splitlines()[:-2] if line.strip()}
    assert set(rows) == set(SPECS)
    for name, spec in SPECS.items():
        assert rows[name] == [spec.kind, spec.model_id], name
    assert f"{len(SPECS)} models." in out.stdout


def test_importing_the_catalog_imports_no_backend():
    code = "import mix_eval.models, mix_eval.models.catalog; import sys; print(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    loaded = set(out.stdout.split())
    assert "torch" not in loaded and "transformers" not in loaded


# ------------------------------------------------------------------ against the catalog

def test_names_are_the_reference_names(records):
    assert len(records) == N_MODELS
    assert set(REFERENCE_SPECS) == set(records)


@pytest.mark.parametrize("name", sorted(REFERENCE_SPECS))
def test_spec_matches_reference(name, records, kind_defaults):
    record = records.get(name)
    assert record is not None, f"{name} is not a reference model"
    spec = SPECS[name]
    assert set(record) <= KNOWN_KEYS, f"catalog fields with no spec field: {set(record) - KNOWN_KEYS}"
    for key, attr in SAME.items():
        if key in record:
            assert getattr(spec, attr) == record[key], f"{name}.{attr}"
    for key, attr in AS_TUPLE.items():
        if key in record:
            assert getattr(spec, attr) == tuple(record[key]), f"{name}.{attr}"
    if "gen_kwargs" in record:
        resolved = resolve_gen_kwargs(spec.gen_kwargs, STAND_IN_EOS, STAND_IN_VOCAB.get)
        assert resolved == record["gen_kwargs"], f"{name}.gen_kwargs"
    else:
        assert not spec.gen_kwargs, name
    expected_tokens = next((record[k] for k in MAX_NEW_TOKENS_KEYS if k in record), kind_defaults[record["kind"]])
    assert spec.closeended_max_new_tokens == expected_tokens, f"{name} max new tokens"
    for key in NOTE_KEYS & set(record):
        assert record[key] in spec.notes, f"{name}.notes lacks the {key}"
    assert spec.tie_weights_after_load == ("tie_weights()" in record.get("note", "")), name


def test_custom_templates_render_the_reference_text(records):
    with_template = {n: r for n, r in records.items() if "custom_chat_template_single_turn" in r}
    assert len(with_template) == 22
    assert {n for n, s in REFERENCE_SPECS.items() if s.chat_template is not None} == set(with_template)
    for name, record in with_template.items():
        expected = record["custom_chat_template_single_turn"]
        assert SPECS[name].chat_template == expected, name
        assert SPECS[name].chat_template.replace("{{USER}}", "hello") == expected.replace("{{USER}}", "hello")


def test_custom_templates_through_the_model_class(records):
    """`render` of the class made from a spec gives the reference's text."""
    from mix_eval.models.factory import model_class_for

    for name, spec in REFERENCE_SPECS.items():
        if spec.chat_template is None:
            continue
        model = object.__new__(model_class_for(spec))
        expected = records[name]["custom_chat_template_single_turn"].replace("{{USER}}", "What is 2+2?")
        assert model.render("What is 2+2?") == expected, name
