"""The Inspect integration is optional: a missing or out-of-range inspect-ai is one line
naming the version and the pip install, the command lines start without it, and the
extra pins the range the tests ran on. These run whether inspect-ai is installed or not."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import REPO, run_module

from mix_eval.import_run import main as import_main
from mix_eval.integrations.framework_check import REQUIREMENTS

INSPECT_REQUIREMENT = REQUIREMENTS["inspect"]


def test_a_framework_version_outside_the_tested_range_is_named(tmp_path):
    """A too-old inspect-ai (its distribution's metadata first on the path) stops the
    import in one line naming the version found, the range and the pip install."""
    dist = tmp_path / "old" / "inspect_ai-0.3.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: inspect_ai\nVersion: 0.3.1\n")
    log = tmp_path / "some.eval"
    log.write_text("not used")
    proc = run_module("mix_eval.import_run", "--framework", "inspect", str(log), "--output_dir", str(tmp_path / "o"),
                      env={"PYTHONPATH": os.pathsep.join([str(tmp_path / "old"), str(REPO)])},
                      cwd=tmp_path)
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "inspect-ai 0.3.1" in err[0] and INSPECT_REQUIREMENT in err[0] and "pip install -e '.[inspect]'" in err[0]


def test_a_missing_framework_is_one_line_naming_the_pip_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "inspect_ai", None)  # `import inspect_ai` fails, as if not installed
    for name in [m for m in sys.modules if m.startswith("mix_eval.integrations.inspect_")]:
        monkeypatch.delitem(sys.modules, name)
    log = tmp_path / "some.eval"
    log.write_text("not read")
    assert import_main(["--framework", "inspect", str(log), "--output_dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["mix_eval: Error: inspect-ai is not installed: pip install -e '.[inspect]' "
                   f"(or pip install '{INSPECT_REQUIREMENT}')"]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("module", ["mix_eval.evaluate", "mix_eval.import_run", "mix_eval.compute_metrics"])
def test_the_command_lines_start_without_importing_inspect(module):
    code = f"import sys, {module} as m\ntry:\n    m.main(['--help'])\nexcept SystemExit:\n    pass\n" \
           "print('inspect_ai' in sys.modules, any(k.startswith('mix_eval.integrations') for k in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False False"


def test_the_extra_pins_the_range_the_tests_ran_on():
    setup = (REPO / "setup.py").read_text(encoding="utf-8")
    assert f'"inspect": ["{INSPECT_REQUIREMENT}"]' in setup
    assert '"mix_eval=mix_eval.integrations.inspect_registry"' in setup


def test_import_run_offers_exactly_the_frameworks_it_has_readers_for():
    from mix_eval.import_run import build_parser
    from mix_eval.integrations.readers import READERS

    framework = next(a for a in build_parser()._actions if "--framework" in a.option_strings)
    assert sorted(framework.choices) == sorted(READERS)
