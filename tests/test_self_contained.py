"""The suite is self-contained: the benchmark ships inside the package, an installed
(not editable) copy finds it from any folder, and the README's commands run as written,
offline, from the repository root and from an unrelated folder."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from mix_eval.data import (
    KNOWN_VERSIONS,
    PACKAGE_DATA,
    SPLITS,
    VERSION_FINGERPRINTS,
    fingerprint,
    read_split_file,
    resolve_data_path,
    split_file,
)

ALL_SPLITS = [s for pair in SPLITS.values() for s in pair]

# The bytes of the shipped files, as published by the MixEval authors.
SHIPPED_SHA256 = {
    "mixeval-2024-06-01/mixeval-hard/free-form.json": "55167abde842c86b80504913eaf839a2fbd7e96b4332eb69406f583dbb6ce7c5",
    "mixeval-2024-06-01/mixeval-hard/multiple-choice.json": "11e57fa2e1bc6bd3529167e4353991cae7c548e55ccf5067ef42a95971397af1",
    "mixeval-2024-06-01/mixeval/free-form.json": "060d12102514316d4965191a31a83e4aa7f76d3f5686b2fc4101e00719c31715",
    "mixeval-2024-06-01/mixeval/multiple-choice.json": "3c7b1ebab4c19c3297c56fb7fe758fbf857c24f1bc72895fcd78382716135643",
    "mixeval-2024-08-11/mixeval-hard/free-form.json": "4784526892f825d421a43a3c34a139adcfa9f8b17d1898b7e5c57079fecf5b4e",
    "mixeval-2024-08-11/mixeval-hard/multiple-choice.json": "3015ee7cc02f20ae7e412e0b42919a9a7d361c6c37de36db5ada38a576a36fea",
    "mixeval-2024-08-11/mixeval/free-form.json": "6709e72987079e0a01a196395995e3e5c6f98d517a0009d07dcc3fd0e5732ca6",
    "mixeval-2024-08-11/mixeval/multiple-choice.json": "db8bc584529f471e6af4668017871767eb1885624570f71d07d1a8f3fac48254",
}
# Items per split (REFERENCE: 2000/2000 and 500/500; 2024-08-11 multiple-choice has 1995).
SIZES = {
    "2024-06-01": {"close_freeform": 2000, "close_multichoice": 2000,
                   "close_freeform_hard": 500, "close_multichoice_hard": 500},
    "2024-08-11": {"close_freeform": 2000, "close_multichoice": 1995,
                   "close_freeform_hard": 500, "close_multichoice_hard": 500},
}
# Any attempt to reach the network from a command under test fails at once.
OFFLINE_ENV = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
               "ALL_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}


# ---------------------------------------------------------------- the shipped data


def test_the_package_ships_both_versions_byte_for_byte():
    shipped = sorted(str(p.relative_to(PACKAGE_DATA)) for p in PACKAGE_DATA.glob("mixeval-*/*/*.json"))
    assert shipped == sorted(SHIPPED_SHA256)
    for name, digest in SHIPPED_SHA256.items():
        assert hashlib.sha256((PACKAGE_DATA / name).read_bytes()).hexdigest() == digest, name


@pytest.mark.parametrize("version", KNOWN_VERSIONS)
def test_the_shipped_files_match_the_loaders_fingerprints_and_sizes(version):
    for split in ALL_SPLITS:
        items = read_split_file(split_file(PACKAGE_DATA, version, split), split)
        assert len(items) == SIZES[version][split.name], split.name
        assert fingerprint(items) == VERSION_FINGERPRINTS[version][split.name], split.name


def test_the_default_data_path_is_the_package_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for version in KNOWN_VERSIONS:
        assert resolve_data_path(None, version) == PACKAGE_DATA
        assert resolve_data_path("mix_eval/data/", version) == PACKAGE_DATA


def test_run_outputs_in_the_working_folder_do_not_hide_the_shipped_data(tmp_path, monkeypatch):
    """The default --output_dir is mix_eval/data/model_responses: a folder that holds only
    run outputs must not be taken for the data."""
    (tmp_path / "mix_eval" / "data" / "model_responses").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert resolve_data_path(None, "2024-06-01") == PACKAGE_DATA


def test_an_explicit_data_path_wins(tmp_path):
    assert resolve_data_path(str(tmp_path), "2024-06-01") == tmp_path


# ---------------------------------------------------------------- an installed copy


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "PYTHONPATH")}
    env.update(TOKENIZERS_PARALLELISM="false", **OFFLINE_ENV)
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """`pip install .` (without its dependencies, which the test venv has) into a folder
    of its own: a regular, non-editable install of the package."""
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    src = build / "src"
    # pip builds in the source folder: give it a copy, so that the checkout stays clean.
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "*.egg-info", "__pycache__", "build", "tests", "mix_eval_out", "mix_eval_demo"))
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(src)],
        capture_output=True, text=True, timeout=300, env=_env(),
    )
    assert result.returncode == 0, result.stderr
    return target


def test_pip_install_puts_the_benchmark_inside_the_installed_package(installed):
    for name in SHIPPED_SHA256:
        path = installed / "mix_eval" / "data" / name
        assert hashlib.sha256(path.read_bytes()).hexdigest() == SHIPPED_SHA256[name], name


def test_pip_install_ships_the_leaderboard(installed):
    """The report's leaderboard tables are package data: an installed copy loads them."""
    from mix_eval.leaderboard import FILES

    for path in FILES.values():
        assert (installed / "mix_eval" / "leaderboard" / path.name).read_bytes() == path.read_bytes()
    code = "from mix_eval.leaderboard import load_table as t; print(len(t('chat')), len(t('base')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=installed.parent,
                            env=_env(PYTHONPATH=str(installed)), timeout=60)
    assert result.stdout.split() == ["52", "21"], result.stderr


def test_pip_install_ships_the_reference_responses_of_the_calibration(installed, tmp_path):
    """`python -m mix_eval.calibrate` judges responses shipped as package data: an installed
    copy rebuilds all four files (each checked against the reference's digest as it is)."""
    code = ("import mix_eval.calibration.references as r, sys; assert r.__file__.startswith(sys.argv[1]); "
            "print(sum(len(r.rebuild_lines(m, s)) for m in r.REFERENCE_MODELS for s in r.reference_splits()))")
    result = subprocess.run([sys.executable, "-c", code, str(installed)], capture_output=True, text=True,
                            cwd=tmp_path, env=_env(PYTHONPATH=str(installed)), timeout=60)
    assert result.stdout.split() == ["8000"], result.stderr[-3000:]


def test_pip_install_ships_the_answers_explorer_page(installed, tmp_path):
    """samples.html is drawn from package data (its stylesheet, body and script): an
    installed copy renders the same page as the checkout."""
    from mix_eval.reporting.samples_page import render

    code = ("import json, sys, mix_eval.reporting.samples_page as p; assert p.__file__.startswith(sys.argv[1]); "
            "sys.stdout.write(p.render({'items': []}))")
    result = subprocess.run([sys.executable, "-c", code, str(installed)], capture_output=True, text=True,
                            cwd=tmp_path, env=_env(PYTHONPATH=str(installed)), timeout=60)
    assert result.returncode == 0 and result.stdout == render({"items": []}), result.stderr[-3000:]


def test_an_installed_copy_runs_from_an_unrelated_folder_without_data_path(installed, tiny_chat, tmp_path):
    elsewhere = tmp_path / "some" / "folder"
    elsewhere.mkdir(parents=True)
    env = _env(PYTHONPATH=str(installed))
    where = subprocess.run([sys.executable, "-c", "import mix_eval.data as d; print(d.PACKAGE_DATA)"],
                           capture_output=True, text=True, cwd=elsewhere, env=env)
    assert where.stdout.strip() == str(installed / "mix_eval" / "data"), where.stderr
    result = subprocess.run(
        [sys.executable, "-m", "mix_eval.evaluate", "--model_name", "local_chat", "--model_path", str(tiny_chat),
         "--benchmark", "mixeval_hard", "--version", "2024-08-11", "--batch_size", "5", "--limit", "5",
         "--max_new_tokens", "4", "--inference_only"],
        capture_output=True, text=True, cwd=elsewhere, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    out = elsewhere / "mix_eval" / "data" / "model_responses" / "local_chat" / "mixeval_hard" / "2024-08-11"
    for split in ("close_freeform_hard", "close_multichoice_hard"):
        lines = (out / f"local_chat_{split}.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(lines) == 5
        shipped = json.loads((installed / "mix_eval" / "data" / "mixeval-2024-08-11" / "mixeval-hard" /
                              ("free-form.json" if "freeform" in split else "multiple-choice.json")).read_text())
        assert sorted(json.loads(line)["id"] for line in lines) == sorted(list(shipped)[:5])
    assert not list(installed.glob("mix_eval/data/model_responses")), "nothing is written into the package"


# ---------------------------------------------------------------- the README, as written


def readme_commands(block: str) -> list[str]:
    """The commands of a fenced bash block: continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", "", block)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def readme_block(after_heading: str | None = None) -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    if after_heading is not None:
        text = text[text.index(after_heading):]
    return re.search(r"```bash\n(.*?)```", text, re.S).group(1)


def run_shell(command: str, cwd: Path, home: Path) -> subprocess.CompletedProcess:
    """One README command as a user types it, with this test run's Python as `python`."""
    env = _env(HOME=str(home), PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env.pop("MIX_EVAL_CACHE", None)
    env.pop("XDG_CACHE_HOME", None)
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def test_the_readme_opens_with_set_up_offline_run_and_test():
    commands = readme_commands(readme_block())
    assert len(commands) == 3, commands
    setup, offline_run, test = commands
    assert "bash setup.sh" in setup
    assert offline_run == "python -m mix_eval.demo"
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert test in ci and "bash setup.sh" in ci


def test_the_readme_offline_run_works_as_written_from_an_unrelated_folder(tmp_path):
    _, offline_run, _ = readme_commands(readme_block())
    home = tmp_path / "home"
    result = run_shell(offline_run, cwd=tmp_path, home=home)
    assert result.returncode == 0, result.stderr[-3000:]
    # it built its checkpoint on first use, in the user's cache
    assert (home / ".cache" / "mix_eval" / "tiny-random-chat-v1" / "config.json").is_file()
    table = result.stdout[result.stdout.index("local_chat (mixeval_hard 2024-08-11):"):]
    assert re.search(r"\|\s+overall\s+\|\s+\d\.\d+\s+\|", table), table
    scores = json.loads((tmp_path / "mix_eval_demo" / "score.json").read_text(encoding="utf-8"))
    assert set(scores) == {"local_chat"}
    vdir = tmp_path / "mix_eval_demo" / "local_chat" / "mixeval_hard" / "2024-08-11"
    assert len((vdir / "local_chat_close_freeform_hard.jsonl").read_text().splitlines()) == 500
    assert len((vdir / "local_chat_close_multichoice_hard.jsonl").read_text().splitlines()) == 500


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory) -> Path:
    """A fresh copy of the repository's files (what a clone holds), with nothing beside it."""
    root = tmp_path_factory.mktemp("clone") / "mix_eval_repo"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.splitlines()
    for name in files:
        if (REPO / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
    return root


@pytest.mark.parametrize("where", ["repository root", "another folder"])
def test_the_readme_quick_start_works_as_written(where, repo_copy, tmp_path):
    quick_start = readme_commands(readme_block("### Step by step"))
    assert all("../" not in c and "shared" not in c for c in quick_start), quick_start
    cwd = repo_copy if where == "repository root" else tmp_path / "work"
    cwd.mkdir(exist_ok=True)
    for command in quick_start:
        result = run_shell(command, cwd=cwd, home=tmp_path / "home")
        assert result.returncode == 0, f"{command}\n{result.stderr[-3000:]}"
    scores = json.loads((cwd / "mix_eval_out" / "score.json").read_text(encoding="utf-8"))
    assert "overall" in scores["local_chat"]
    # check_eval_complete exits 1 on an unfinished folder: the run above is complete
    assert (cwd / "mix_eval_out" / "checks.log").is_file()
    # "Share a run that anyone can check": its bundle of that run, and the check of it
    bundle, check = readme_commands(readme_block("## Share a run"))
    assert "--out run.tar.gz" in bundle and check == "python -m mix_eval.bundle --verify run.tar.gz"
    for command in (bundle, check):
        result = run_shell(command, cwd=cwd, home=tmp_path / "home")
        assert result.returncode == 0, f"{command}\n{result.stderr[-3000:]}"
    assert "verified" in result.stdout and "check_eval_complete: 1 folder(s) complete" in result.stdout


def test_the_demo_checkpoint_is_built_once_and_a_half_built_one_is_rebuilt(tmp_path):
    from mix_eval.demo import CHECKPOINT_FILES, CHECKPOINT_NAME, demo_checkpoint

    half = tmp_path / CHECKPOINT_NAME
    half.mkdir()
    (half / "config.json").write_text("{}")  # what a build killed half-way could leave
    built = demo_checkpoint(tmp_path)
    assert built == half
    assert all((built / f).is_file() for f in CHECKPOINT_FILES)
    assert json.loads((built / "config.json").read_text())["model_type"] == "llama"
    stamp = (built / "model.safetensors").stat().st_mtime_ns
    assert demo_checkpoint(tmp_path) == built
    assert (built / "model.safetensors").stat().st_mtime_ns == stamp  # reused, not rebuilt
    assert [p.name for p in tmp_path.iterdir()] == [CHECKPOINT_NAME]  # no temporary folder left


def test_a_version_fetched_for_the_default_data_path_goes_to_the_cache_not_the_package(
        tmp_path, monkeypatch):
    """site-packages may be read-only: a Hub download for the default --data_path is kept
    in the user's cache, and found there next time."""
    from mix_eval.data import load_split

    cache = tmp_path / "cache"
    monkeypatch.setenv("MIX_EVAL_CACHE", str(cache))
    monkeypatch.chdir(tmp_path)
    assert resolve_data_path(None, "hub") == cache / "data"

    def hub_copy(split):
        """The shipped 2024-06-01 split with one prompt changed: a version nobody knows."""
        raw = json.loads(split_file(PACKAGE_DATA, "2024-06-01", split).read_text(encoding="utf-8"))
        items = [{**item, "_id": item_id} for item_id, item in raw.items()]
        items[0]["prompt"] += " (changed)"
        return items

    ff_hard = SPLITS["mixeval_hard"][0]
    items = load_split(None, "hub", ff_hard, fetch=hub_copy)
    assert len(items) == 500 and items[0]["prompt"].endswith(" (changed)")
    assert sorted(p.name for p in (cache / "data").iterdir()) == ["mixeval-hub"]
    assert not (PACKAGE_DATA / "mixeval-hub").exists()
    assert resolve_data_path(None, "hub") == cache / "data"

    def offline(split):
        raise AssertionError("fetched again")

    assert load_split(None, "hub", ff_hard, fetch=offline) == items


def test_the_readme_s_contents_and_links_lead_to_its_sections():
    """The table of contents lists every top-level section, in order, and every link
    inside the README (``#anchor``, as GitHub makes them) lands on a heading."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    headings = re.findall(r"^(#{2,3}) (.+)$", prose, re.M)

    def slug(title: str) -> str:
        return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")

    anchors = {slug(title) for _, title in headings}
    links = re.findall(r"\]\(#([^)]+)\)", prose)
    assert links and [a for a in links if a not in anchors] == []
    contents = prose[prose.index("## Contents"):]
    contents = contents[:contents.index("\n## ", 1)]
    listed = re.findall(r"^- \[[^\]]+\]\(#([^)]+)\)", contents, re.M)
    sections = [slug(title) for level, title in headings if level == "##" and title != "Contents"]
    assert listed == sections
    assert "(docs/design.md)" in prose[:prose.index("## Contents")]
