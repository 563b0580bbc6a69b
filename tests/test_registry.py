"""The registry: reference import paths, lazy loading, clear errors."""
from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO, run_module

from mix_eval.errors import ModelError
from mix_eval.settings import ModelSettings


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    return set(out.stdout.split())


@pytest.mark.parametrize("code", [
    "import mix_eval.api.registry",
    "from mix_eval.models import AVAILABLE_MODELS",
    "from mix_eval.api.registry import get_model; get_model('local_chat')",
    "import mix_eval.utils.check_eval_complete",
    "import mix_eval.evaluate",
    "import mix_eval.data, mix_eval.prompts, mix_eval.generation, mix_eval.responses",
])
def test_light_imports_do_not_import_torch(code):
    loaded = _modules_after(code)
    assert "torch" not in loaded and "transformers" not in loaded


def test_reference_import_paths():
    from mix_eval.api.registry import get_model, register_model  # noqa: F401
    from mix_eval.models import AVAILABLE_MODELS
    from mix_eval.models.base import BaseModel, ChatModel
    from mix_eval.models.base_api import APIModelBase

    assert {"local_chat", "local_base"} <= set(AVAILABLE_MODELS)
    assert issubclass(get_model("local_chat"), ChatModel)
    assert issubclass(get_model("local_base"), BaseModel)
    assert APIModelBase.kind == "api"


def test_unknown_model_suggests_close_names():
    from mix_eval.api.registry import get_model

    with pytest.raises(ModelError, match="local_chat"):
        get_model("local_caht")


def test_register_model_with_a_reference_style_class(tiny_chat):
    """A class written the reference's way works unchanged."""
    from mix_eval.api.registry import get_model, register_model
    from mix_eval.models.base import ChatModel

    @register_model("my_reference_style_model")
    class MyModel(ChatModel):
        def __init__(self, args):
            super().__init__(args)
            self.model_name = str(tiny_chat)
            self.SYSTEM_MESSAGE = None
            self.model = self.build_model()
            self.model_max_len = self.model.config.max_position_embeddings
            self.tokenizer = self.build_tokenizer()
            self.tokenizer.pad_token = self.tokenizer.eos_token
            self.max_input_length_closeend = min(self.model_max_len, self.max_input_length) \
                - self.closeended_max_new_tokens

    model = get_model("my_reference_style_model")(ModelSettings("my_reference_style_model"))
    model.closeended_max_new_tokens = 3
    out = model.respond(["Question: 1+1?\nAnswer the question shortly.", "Hi"])
    assert len(out) == 2 and all(isinstance(x, str) for x in out)


@pytest.mark.parametrize("path_kind", ["missing", "not_a_checkpoint"])
def test_bad_model_path_is_one_clear_error(path_kind, tmp_path, data_path):
    bad = tmp_path / "nothing-here"
    if path_kind == "not_a_checkpoint":
        bad.mkdir()
        (bad / "weights.txt").write_text("no")
    proc = run_module("mix_eval.evaluate", "--model_name", "local_chat", "--model_path", str(bad),
                      "--benchmark", "mixeval_hard", "--version", "2024-06-01", "--batch_size", "2",
                      "--data_path", str(data_path), "--output_dir", str(tmp_path / "out"),
                      "--inference_only", "--limit", "2")
    assert proc.returncode == 2
    assert "--model_path" in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_model_name_on_the_cli(tmp_path, data_path):
    proc = run_module("mix_eval.evaluate", "--model_name", "gemma_11_7b_instruc", "--benchmark", "mixeval",
                      "--version", "2024-06-01", "--batch_size", "2", "--output_dir", str(tmp_path),
                      "--inference_only")
    assert proc.returncode == 2
    assert "unknown model name" in proc.stderr and "Traceback" not in proc.stderr


def test_models_listing():
    proc = run_module("mix_eval.models")
    assert proc.returncode == 0
    assert "local_chat" in proc.stdout and "chat" in proc.stdout


def test_models_from_a_package_entry_point(tmp_path, monkeypatch):
    """A package exposing a module in the `mix_eval.models` entry point group registers
    its models when their name is asked for."""
    from mix_eval.api import registry

    (tmp_path / "thirdparty_models.py").write_text(
        "from mix_eval.api.registry import register_model\n"
        "from mix_eval.models.base import ChatModel\n\n"
        "@register_model('thirdparty_chat')\n"
        "class ThirdParty(ChatModel):\n"
        "    pass\n"
    )
    dist = tmp_path / "thirdparty_models-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty-models\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[mix_eval.models]\nthirdparty = thirdparty_models\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    cls = registry.get_model("thirdparty_chat")
    assert cls.__name__ == "ThirdParty"
