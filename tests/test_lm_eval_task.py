"""MixEval's lm-evaluation-harness tasks and the reader of their logged samples.

One loopback server answers MixEval-Hard (all 1000 items) twice: through this package's
``openai_compatible`` model and through lm-eval's ``local-chat-completions`` with
``--apply_chat_template`` and mix_eval's tasks. The messages each path sent, the
responses each kept and the rule-parser scores are compared; lm-eval runs as a user runs
it (its command line, in a child process)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import REPO, child_env, clear_api_settings, model_answer, read_jsonl
from fake_openai_server import FakeOpenAIServer

from mix_eval.data import load_split, splits_for
from mix_eval.errors import MixEvalError

lm_eval = pytest.importorskip("lm_eval")

from mix_eval.integrations import lm_eval as tasks  # noqa: E402 - after the skip
from mix_eval.integrations.imported import ImportedRun  # noqa: E402
from mix_eval.integrations.lm_eval_import import read_lm_eval_samples  # noqa: E402

VERSION = "2024-06-01"  # not the tasks' default: the version reaches lm-eval through --metadata
OURS, THEIRS = "mix-eval-path", "lm-eval-path"  # the model ids each path asks for
SPLITS = splits_for("mixeval_hard")


def run_lm_eval(base_url: str, out: Path, *extra: str, model: str = THEIRS) -> subprocess.CompletedProcess:
    """lm-eval's command line on MixEval-Hard against an OpenAI-compatible server."""
    return subprocess.run(
        [sys.executable, "-m", "lm_eval", "run", "--model", "local-chat-completions",
         "--model_args", f"model={model},base_url={base_url}/chat/completions,num_concurrent=16",
         "--tasks", "mixeval_hard", "--include_path", str(tasks.include_path()), "--apply_chat_template",
         "--metadata", json.dumps({tasks.VERSION_KEY: VERSION}), "--log_samples", "--output_path", str(out),
         *extra],
        capture_output=True, text=True, timeout=600, env=child_env(), cwd=REPO)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Both paths on one server (told apart by model id): (server, this package's version
    folder, lm-eval's output folder, lm-eval's stdout)."""
    root = tmp_path_factory.mktemp("lm_eval_runs")
    from mix_eval.evaluate import main as evaluate_main

    with FakeOpenAIServer(reply=model_answer) as server, pytest.MonkeyPatch.context() as mp:
        clear_api_settings(mp, root)
        code = evaluate_main(["--model_name", "openai_compatible", "--model_base_url", server.base_url,
                              "--model_id", OURS, "--output_name", "ours", "--benchmark", "mixeval_hard",
                              "--version", VERSION, "--batch_size", "100", "--output_dir", str(root / "ours"),
                              "--inference_only"])
        assert code == 0
        lm = run_lm_eval(server.base_url, root / "theirs")
        assert lm.returncode == 0, lm.stderr[-3000:]
        yield server, root / "ours" / "ours" / "mixeval_hard" / VERSION, root / "theirs", lm.stdout


def sent(server, model: str) -> list:
    return [r.body for r in server.chat_requests() if r.body["model"] == model]


def test_both_paths_send_each_item_the_same_messages_and_stopping(runs):
    server, _, _, _ = runs
    ours, theirs = sent(server, OURS), sent(server, THEIRS)
    expected = Counter(json.dumps([{"role": "user", "content": item["formated_input"]}])
                       for split in SPLITS for item in load_split(None, VERSION, split))
    assert sum(expected.values()) == 1000
    assert Counter(json.dumps(b["messages"]) for b in ours) == expected
    assert Counter(json.dumps(b["messages"]) for b in theirs) == expected
    # the same stopping: 1536 new tokens, no stop string
    assert {b["max_tokens"] for b in ours} == {b["max_tokens"] for b in theirs} == {1536}
    assert all("stop" not in b for b in ours) and all(b["stop"] == [] for b in theirs)


def test_each_logged_sample_was_asked_its_own_items_prompt(runs):
    """Item by item: the messages lm-eval logged for an id are the one user turn this
    package's response file records for that id."""
    _, ours, theirs, _ = runs
    for split in SPLITS:
        ours_by_id = {line["id"]: line["formated_input"] for line in read_jsonl(ours / f"ours_{split.name}.jsonl")}
        task = "mixeval_hard_" + ("multichoice" if split.is_multichoice else "freeform")
        samples = read_jsonl(next((theirs / THEIRS).glob(f"samples_{task}_*.jsonl")))
        assert len(samples) == len(ours_by_id) == 500
        for sample in samples:
            messages = json.loads(sample["arguments"]["gen_args_0"]["arg_0"][0])
            assert messages == [{"role": "user", "content": ours_by_id[sample["doc"]["id"]]}]


def test_the_imported_run_holds_this_packages_ids_and_responses(runs):
    _, ours, theirs, _ = runs
    run = read_lm_eval_samples(theirs)
    assert isinstance(run, ImportedRun)
    assert (run.framework, run.framework_version, run.model) == ("lm_eval", lm_eval.__version__, THEIRS)
    assert (run.benchmark, run.version, run.judged) == ("mixeval_hard", VERSION, {})
    assert set(run.responses) == {s.name for s in SPLITS}
    for split in SPLITS:
        packaged = load_split(None, VERSION, split)
        imported = run.responses[split.name]
        assert [line["id"] for line in imported] == [item["id"] for item in packaged]  # the packaged order
        own = {line["id"]: line for line in read_jsonl(ours / f"ours_{split.name}.jsonl")}
        for line, item in zip(imported, packaged):
            assert line == {**item, "response": own[line["id"]]["response"]}
    settings = run.settings
    assert settings["model_source"] == "local-chat-completions" and settings["chat_template_applied"] is True
    assert settings["model_args"]["base_url"] == "127.0.0.1"  # a URL is cut to its host
    assert settings["generation_kwargs"]["mixeval_hard_freeform"]["max_gen_toks"] == 1536
    assert run.source.endswith(".json") and Path(run.source).parent == theirs / THEIRS


def test_the_tasks_quick_look_is_compute_metrics_rule_parsers_on_the_imported_run(runs, tmp_path):
    """lm-eval's `rule_parser_score` of each task is compute_metrics' rule-parser score of
    that split for the imported responses (in the packaged order, as an imported folder holds
    them: the multiple-choice parser's random fallbacks are drawn in file order), and the
    group's is score.json's overall."""
    _, ours, theirs, _ = runs
    from mix_eval.compute_metrics import main as compute_main
    from mix_eval.scoring.aggregate import OVERALL, item_scores_rule, split_scores

    run = read_lm_eval_samples(theirs)
    folder = tmp_path / "scored"
    vdir = folder / "ours" / "mixeval_hard" / VERSION
    shutil.copytree(ours, vdir)
    for split in SPLITS:  # this package's own folder, its lines in the imported (packaged) order
        own = {line["id"]: line for line in read_jsonl(vdir / f"ours_{split.name}.jsonl")}
        (vdir / f"ours_{split.name}.jsonl").write_text(
            "".join(json.dumps(own[line["id"]]) + "\n" for line in run.responses[split.name]), encoding="utf-8")
    assert compute_main(["--model_response_dir", str(folder), "--benchmark", "mixeval_hard", "--version", VERSION,
                         "--free_form_parser", "rule", "--multi_choice_parser", "rule"]) == 0
    score = json.loads((vdir / "score.json").read_text())
    results = json.loads(Path(run.source).read_text())["results"]
    reported = {name: results[name]["rule_parser_score,none"] for name in results}
    for split, task in zip(SPLITS, ("mixeval_hard_freeform", "mixeval_hard_multichoice")):
        judged = read_jsonl(next(vdir.glob(f"judge_results_{split.kind.tag}_rule*.jsonl")))
        assert reported[task] == split_scores(item_scores_rule(judged))[OVERALL]
    # lm-eval weighs the two tasks by size as score.json does (its sum in another order)
    assert reported["mixeval_hard"] == pytest.approx(score["overall"], rel=1e-12)
    assert 0 < score["overall"] < 1


def test_the_version_reaches_the_documents_and_defaults_to_the_newest():
    docs = tasks.load_docs("mixeval_hard", "multiple-choice", version=1.0, **{tasks.VERSION_KEY: VERSION})["test"]
    items = load_split(None, VERSION, SPLITS[1])
    assert [d["id"] for d in docs] == [i["id"] for i in items]
    assert [tasks.doc_to_text(d) for d in docs] == [i["formated_input"] for i in items]
    newest = tasks.load_docs("mixeval", "free-form")["test"]
    assert {d[tasks.VERSION_KEY] for d in newest} == {"2024-08-11"} and len(newest) == 2000


def test_the_task_manager_knows_both_groups_and_builds_mixeval_from_the_packaged_data():
    from lm_eval.tasks import get_task_dict

    manager = tasks.task_manager(include_defaults=False)
    assert {"mixeval", "mixeval_hard"} <= set(manager.all_groups)
    assert {"mixeval_freeform", "mixeval_multichoice", "mixeval_hard_freeform",
            "mixeval_hard_multichoice"} <= set(manager.all_subtasks)
    (group, built), = get_task_dict(["mixeval"], manager).items()
    assert "mixeval" in str(group)
    sizes = {str(name): len(task.eval_docs) for name, task in built.items()}
    assert sizes == {"mixeval_freeform": 2000, "mixeval_multichoice": 1995}  # 2024-08-11, the default
    from mix_eval.models.spec import DEFAULT_MAX_NEW_TOKENS

    for task in built.values():  # the stopping of this package's API models
        assert task.config.generation_kwargs == {"until": [], "max_gen_toks": DEFAULT_MAX_NEW_TOKENS["api"],
                                                 "do_sample": False, "temperature": 0.0}


def test_the_path_command_prints_the_task_folder():
    out = subprocess.run([sys.executable, "-m", "mix_eval.integrations.lm_eval", "--path"], capture_output=True,
                         text=True, timeout=120, env=child_env(), cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()) == tasks.TASKS_DIR and (tasks.TASKS_DIR / "mixeval_hard.yaml").is_file()


def test_a_missing_lm_eval_is_one_line_naming_the_pip_install():
    code = ("import sys; sys.modules['lm_eval'] = None\n"
            "from mix_eval.integrations.lm_eval.__main__ import main\n"
            "sys.exit(main(['--path']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=child_env(),
                         cwd=REPO)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().splitlines() == [
        "mix_eval: Error: lm-evaluation-harness is not installed: pip install -e '.[lm-eval]' "
        "(or pip install 'lm-eval[api]>=0.4.12,<0.5')"]


# 0.4.11 sends other messages (a space before the prompt, a "type" key): outside the range
@pytest.mark.parametrize("version", ["0.4.11", "0.5.0", "1.0"])
def test_an_lm_eval_outside_the_pinned_range_is_named(monkeypatch, version):
    monkeypatch.setattr(lm_eval, "__version__", version)
    with pytest.raises(MixEvalError, match=rf"lm-evaluation-harness {version} \(installed\) is outside the range "
                                           r"mix_eval's tasks were tested on \(lm-eval>=0\.4\.12,<0\.5\)"):
        tasks.include_path()


def copy_log(runs, tmp_path: Path) -> Path:
    dst = tmp_path / "log"
    shutil.copytree(runs[2], dst)
    return dst / THEIRS


def test_a_log_written_by_another_lm_eval_is_named(runs, tmp_path):
    folder = copy_log(runs, tmp_path)
    results = next(folder.glob("results_*.json"))
    data = json.loads(results.read_text())
    data["lm_eval_version"] = "0.3.0"
    results.write_text(json.dumps(data))
    with pytest.raises(MixEvalError, match=rf"lm-evaluation-harness 0\.3\.0 \(which wrote {results}\) is outside"):
        read_lm_eval_samples(folder)


def test_a_malformed_samples_file_is_one_error_naming_the_file_and_line(runs, tmp_path):
    folder = copy_log(runs, tmp_path)
    samples = next(folder.glob("samples_mixeval_hard_multichoice_*.jsonl"))
    lines = samples.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[6] = lines[6][: len(lines[6]) // 2] + "\n"  # line 7 cut in the middle
    samples.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(MixEvalError) as e:
        read_lm_eval_samples(folder)
    assert str(e.value).startswith(f"{samples}, line 7")
    assert "not valid JSON" in str(e.value) and "\n" not in str(e.value)

    lines[6] = json.dumps({"doc_id": 6, "resps": [["B"]]}) + "\n"  # a line of another task's shape
    samples.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(MixEvalError, match=rf"^{samples}, line 7: no doc with the item's id and mixeval_version"):
        read_lm_eval_samples(folder)


def test_a_sample_of_other_prompts_is_refused(runs, tmp_path):
    folder = copy_log(runs, tmp_path)
    samples = next(folder.glob("samples_mixeval_hard_freeform_*.jsonl"))
    lines = [json.loads(x) for x in samples.read_text(encoding="utf-8").splitlines()]
    lines[2]["doc"]["formated_input"] += " Think step by step."
    samples.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    with pytest.raises(MixEvalError, match=rf"line 3 \(id '{lines[2]['doc']['id']}'\): the prompt logged is not "
                                           "this package's"):
        read_lm_eval_samples(folder)


def test_folders_that_hold_no_run_or_several_models_say_what_to_give(runs, tmp_path):
    with pytest.raises(MixEvalError, match="holds no results_"):
        read_lm_eval_samples(tmp_path)
    with pytest.raises(MixEvalError, match="does not exist"):
        read_lm_eval_samples(tmp_path / "nowhere")
    folder = copy_log(runs, tmp_path)
    shutil.copytree(folder, folder.parent / "another-model")
    with pytest.raises(MixEvalError, match=r"runs of several models \(another-model, lm-eval-path\)"):
        read_lm_eval_samples(folder.parent)
    assert read_lm_eval_samples(folder).model == THEIRS  # one model's folder is fine


def test_the_reader_needs_no_lm_eval():
    code = ("import sys; sys.modules['lm_eval'] = None\n"
            "import mix_eval.integrations.lm_eval_import\n"
            "print('torch' in sys.modules, 'datasets' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=child_env(),
                         cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_the_command_line_imports_no_lm_eval():
    code = ("import sys, runpy\nsys.argv = ['evaluate', '--help']\n"
            "try:\n    runpy.run_module('mix_eval.evaluate', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "import mix_eval.compute_metrics\n"
            "print(sorted(m for m in sys.modules if m == 'lm_eval' or m.startswith(('lm_eval.', 'mix_eval.integrations'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=child_env(),
                         cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_import_run_brings_an_lm_eval_run_back_as_a_folder_compute_metrics_scores(runs, tmp_path, capsys):
    """`python -m mix_eval.import_run --framework lm_eval`: the response folder holds this
    package's own answers item by item, its manifest names lm-eval, and compute_metrics
    scores it as it scores the package's own run (same lines, same order)."""
    _, ours, theirs, _ = runs
    from mix_eval.compute_metrics import main as compute_main
    from mix_eval.import_run import main as import_main

    out = tmp_path / "imported"
    assert import_main(["--framework", "lm_eval", str(theirs), "--output_dir", str(out),
                        "--output_name", "lm"]) == 0
    assert "compute_metrics" in capsys.readouterr().out
    vdir = out / "lm" / "mixeval_hard" / VERSION
    for split in SPLITS:
        own = {line["id"]: line["response"] for line in read_jsonl(ours / f"ours_{split.name}.jsonl")}
        imported = read_jsonl(vdir / f"lm_{split.name}.jsonl")
        assert len(imported) == len(own) and {x["id"]: x["response"] for x in imported} == own
    manifest = json.loads((vdir / "run_manifest.json").read_text())
    assert manifest["imported"]["framework"] == "lm_eval"
    assert manifest["imported"]["framework_version"] == lm_eval.__version__
    assert compute_main(["--model_response_dir", str(out), "--benchmark", "mixeval_hard", "--version", VERSION,
                         "--free_form_parser", "rule", "--multi_choice_parser", "rule"]) == 0
    assert 0 < json.loads((vdir / "score.json").read_text())["overall"] < 1
    capsys.readouterr()
    assert import_main(["--framework", "lm_eval", str(theirs), "--output_dir", str(out), "--output_name", "lm"]) == 2
    assert "lm" in capsys.readouterr().err  # an existing folder is never overwritten


@pytest.mark.parametrize("parsers", [("model", "model"), ("rule", "rule")])
def test_an_imported_lm_eval_run_scores_as_this_packages_own_run(runs, tmp_path, clean_env, parsers):
    """The lm-eval run brought back and this package's own run of the same server, scored
    together by compute_metrics: by the same loopback judge, or by the rule parsers (whose
    random fallbacks are drawn in file order: both files are in the data's order), the two
    score.json are equal."""
    from conftest import JUDGE_KEY, judge_reply

    from mix_eval.compute_metrics import main as compute_main
    from mix_eval.import_run import main as import_main

    _, ours, theirs, _ = runs
    out = tmp_path / "both"
    shutil.copytree(ours, out / "ours" / "mixeval_hard" / VERSION)
    assert import_main(["--framework", "lm_eval", str(theirs), "--output_dir", str(out), "--output_name", "lm"]) == 0
    ff, mc = parsers
    with FakeOpenAIServer(reply=judge_reply, api_key=JUDGE_KEY) as judge:
        clean_env.setenv("MODEL_PARSER_API", JUDGE_KEY)
        assert compute_main(["--model_response_dir", str(out), "--benchmark", "mixeval_hard", "--version", VERSION,
                             "--api_base_url", judge.base_url, "--api_parallel_num", "32",
                             "--free_form_parser", ff, "--multi_choice_parser", mc]) == 0
        asked = len(judge.chat_requests())
    assert (asked > 0) == (ff == "model")
    scores = json.loads((out / "score.json").read_text())
    assert set(scores) == {"ours", "lm"} and scores["ours"] == scores["lm"]
