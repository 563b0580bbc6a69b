"""``--backend vllm``: the real engine (vLLM's CPU build here), against the ``hf`` backend.

The checkpoints are tiny random Llamas with a head size of 64 (vLLM's CPU attention
needs it), in float32, decoded greedily: both engines should then give the same tokens.
Every vLLM run starts an engine (about half a minute on two cores), so the runs are
few and shared by module-scoped fixtures.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import REF_RESPONSES, REPO, free_ports, read_jsonl, run_module, wait_until
from mix_eval.evaluate import main as evaluate_main

VERSION = "2024-06-01"
SPLITS = ("close_freeform_hard", "close_multichoice_hard")
NEW_TOKENS = "8"
# vLLM's own log says when its engine runs (mix_eval quiets it unless asked)
ENGINE_LOGS = {"VLLM_LOGGING_LEVEL": "INFO"}
ENGINE_STARTED = "Initializing a V1 LLM engine"


def build(path: Path, chat: bool) -> Path:
    from mix_eval.models.tiny import CHAT_TEMPLATE, build_tiny_checkpoint

    return build_tiny_checkpoint(path, hidden_size=128, num_attention_heads=2, num_key_value_heads=2,
                                 chat_template=CHAT_TEMPLATE if chat else None)


@pytest.fixture(scope="module")
def vllm_chat(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("vllm") / "tiny-chat-64", chat=True)


@pytest.fixture(scope="module")
def vllm_base(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("vllm") / "tiny-base-64", chat=False)


def argv(model_name: str, checkpoint: Path, data_path: Path, out: Path, *extra: str) -> list[str]:
    return ["--model_name", model_name, "--model_path", str(checkpoint), "--benchmark", "mixeval_hard",
            "--version", VERSION, "--batch_size", "16", "--max_new_tokens", NEW_TOKENS, "--dtype", "float32",
            "--data_path", str(data_path), "--output_dir", str(out), "--inference_only", *extra]


def responses(out: Path, model: str, split: str) -> dict[str, dict]:
    path = out / model / "mixeval_hard" / VERSION / f"{model}_{split}.jsonl"
    return {r["id"]: r for r in read_jsonl(path)}


def lines_of(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0


# The engine takes at least MIN_CHUNK (512) prompts at once, more than a MixEval-Hard split
# holds (500), and there is no setting to lower it (a floor for the engine's speed, not a
# choice): the acceptance run's first process lowers it to CHUNK, its one difference from
# `python -m mix_eval.evaluate`, so that its first split is four chunks and the run can be
# killed between two of them. Its rerun is the plain command, with the real floor.
CHUNK = 128
LOWERED_CHUNK = ("import runpy, sys; import mix_eval.models.vllm_engine as engine; "
                 "engine.MIN_CHUNK = int(sys.argv.pop(1)); "
                 "runpy.run_module('mix_eval.evaluate', run_name='__main__', alter_sys=True)")


@pytest.fixture(scope="module")
def vllm_chat_run(vllm_chat, data_path, tmp_path_factory) -> Path:
    """The acceptance run: all of MixEval-Hard on vLLM in chunks of CHUNK, SIGKILLed once
    the first chunk of its first split is written, then rerun to the end. A kill loses at
    most the chunk in flight: the file holds whole chunks only (issue 19, proof d)."""
    out = tmp_path_factory.mktemp("vllm-chat-run")
    cmd = [sys.executable, "-c", LOWERED_CHUNK, str(CHUNK),
           *argv("local_chat", vllm_chat, data_path, out, "--backend", "vllm")]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    first = out / "local_chat" / "mixeval_hard" / VERSION / f"local_chat_{SPLITS[0]}.jsonl"
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
                            start_new_session=True)
    deadline = time.time() + 400
    while proc.poll() is None and lines_of(first) < CHUNK and time.time() < deadline:
        time.sleep(0.01)
    killed = proc.poll() is None
    os.killpg(proc.pid, signal.SIGKILL)  # the engine's processes too
    _, err = proc.communicate(timeout=60)
    assert killed, f"the run ended before it could be killed:\n{err[-3000:]}"
    text = first.read_text(encoding="utf-8")
    written = [json.loads(line) for line in text.splitlines()]  # no torn line
    assert text.endswith("\n") and len(written) % CHUNK == 0 and 0 < len(written) < 500, (len(written), err[-3000:])
    assert len({r["id"] for r in written}) == len(written)
    rerun = run_module("mix_eval.evaluate", *argv("local_chat", vllm_chat, data_path, out, "--backend", "vllm"),
                       timeout=600, env=ENGINE_LOGS)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert ENGINE_STARTED in rerun.stdout + rerun.stderr
    return out


def test_vllm_run_of_mixeval_hard_survives_sigkill_and_is_complete(vllm_chat_run, data_path, tmp_path):
    vdir = vllm_chat_run / "local_chat" / "mixeval_hard" / VERSION
    for split, reference in zip(SPLITS, ("gemma_11_7b_instruct_close_freeform_hard",
                                         "gemma_11_7b_instruct_close_multichoice_hard")):
        lines = read_jsonl(vdir / f"local_chat_{split}.jsonl")
        ours = {r["id"]: r for r in lines}
        ref = {r["id"]: r for r in read_jsonl(REF_RESPONSES / "mixeval_hard" / VERSION / f"{reference}.jsonl")}
        assert len(lines) == len(ours) == len(ref) == 500  # every item exactly once, the killed split's too
        assert all(ours[i]["formated_input"] == ref[i]["formated_input"] for i in ref)
        status = json.loads((vdir / f"status_{split}.json").read_text())
        assert status["status"]["status"] == "complete"
        assert status["args"]["backend"] == "vllm"
    check = run_module("mix_eval.utils.check_eval_complete", "--benchmark", "mixeval_hard", "--version", VERSION,
                       "--chat_models_to_check", "local_chat", "--base_models_to_check", "none",
                       "--model_response_dir", str(vllm_chat_run), "--out_path", str(tmp_path / "checks.log"),
                       "--data_path", str(data_path))
    assert check.returncode == 0, check.stdout + check.stderr


def same_share(a: dict[str, dict], b: dict[str, dict]) -> float:
    return sum(a[i]["response"] == b[i]["response"] for i in b) / len(b)


@pytest.mark.parametrize("kind", ["chat", "base"])
def test_vllm_and_hf_backends_agree(kind, vllm_chat_run, vllm_chat, vllm_base, data_path, tmp_path):
    """The same formatted inputs, and for a float32 checkpoint decoded greedily the same
    responses (the share is printed; nearly all must agree)."""
    model, checkpoint = ("local_chat", vllm_chat) if kind == "chat" else ("local_base", vllm_base)
    hf_out = tmp_path / "hf"
    done = run_module("mix_eval.evaluate", *argv(model, checkpoint, data_path, hf_out, "--limit", "60"),
                      env=ENGINE_LOGS)
    assert done.returncode == 0, done.stderr[-3000:]
    assert ENGINE_STARTED not in done.stdout + done.stderr
    if kind == "chat":
        vllm_out = vllm_chat_run
    else:
        vllm_out = tmp_path / "vllm"
        done = run_module("mix_eval.evaluate", *argv(model, checkpoint, data_path, vllm_out, "--limit", "60",
                                                     "--backend", "vllm"), timeout=600, env=ENGINE_LOGS)
        assert done.returncode == 0, done.stderr[-3000:]
        assert ENGINE_STARTED in done.stdout + done.stderr
    for split in SPLITS:
        hf, vllm = responses(hf_out, model, split), responses(vllm_out, model, split)
        assert set(hf) <= set(vllm)
        assert all(hf[i]["formated_input"] == vllm[i]["formated_input"] for i in hf)
        share = same_share(vllm, hf)
        print(f"{kind} {split}: {share:.1%} of {len(hf)} responses identical")
        assert share >= 0.95, share
        assert any(r["response"] for r in hf.values())  # the comparison is not of empty answers


def test_resuming_with_another_backend_is_refused(vllm_chat_run, vllm_chat, data_path, capsys):
    code = evaluate_main(argv("local_chat", vllm_chat, data_path, vllm_chat_run))
    assert code == 2
    err = capsys.readouterr().err
    assert "--backend" in err and "vllm" in err


def test_vllm_backend_refuses_an_api_model(data_path, tmp_path, capsys):
    code = evaluate_main(["--model_name", "gpt_4o", "--benchmark", "mixeval_hard", "--version", VERSION,
                          "--batch_size", "1", "--data_path", str(data_path), "--output_dir", str(tmp_path),
                          "--inference_only", "--backend", "vllm"])
    assert code == 2
    assert "--backend vllm drives the Hugging Face models" in capsys.readouterr().err


def test_engine_flags_without_the_vllm_backend_are_refused(vllm_chat, data_path, tmp_path, capsys):
    code = evaluate_main(argv("local_chat", vllm_chat, data_path, tmp_path, "--tensor_parallel_size", "2"))
    assert code == 2
    assert "--tensor_parallel_size is a setting of the vLLM engine: add --backend vllm" in capsys.readouterr().err


def test_vllm_not_installed_is_one_error_naming_the_install(vllm_chat, data_path, tmp_path, capsys, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name == "vllm" else real(name, *a, **k))
    code = evaluate_main(argv("local_chat", vllm_chat, data_path, tmp_path, "--backend", "vllm"))
    assert code == 2
    err = capsys.readouterr().err
    assert "pip install" in err and "--backend hf" in err
    assert not (tmp_path / "local_chat").exists() or not any((tmp_path / "local_chat").rglob("*.jsonl"))


def test_local_judge_on_vllm_gives_the_hf_judges_verdicts(tmp_path):
    """--judge_model_id on --backend vllm: same messages, verdicts, rounds and scores as on hf."""
    from conftest import make_responses
    from verdict_checkpoint import build_verdict_checkpoint

    pieces = ("The correctness score: ", "[[", "1.0", "]]", ". The option chosen by the model: ", "[[B]]")
    judge = build_verdict_checkpoint(tmp_path / "org" / "verdict-judge-64", pieces, hidden=128, heads=2, kv_heads=2)
    runs = {}
    for backend in ("hf", "vllm"):
        root = tmp_path / backend
        vdir = make_responses(root, "my_model", "mixeval", n=5)
        done = run_module("mix_eval.compute_metrics", "--benchmark", "mixeval", "--version", VERSION,
                          "--model_response_dir", str(root), "--judge_model_id", str(judge),
                          "--batch_size_judge", "2", "--backend", backend, timeout=600, env=ENGINE_LOGS)
        assert done.returncode == 0, done.stderr[-3000:]
        assert (ENGINE_STARTED in done.stdout + done.stderr) == (backend == "vllm")
        tail = str(judge).replace("/", "_")
        report = json.loads((vdir / "judge_report.json").read_text())
        for split in ("free_form", "multiple_choice"):  # each run records its engine, and when it judged
            assert report[split].pop("backend") == backend
            del report[split]["first_call"], report[split]["last_call"]
        runs[backend] = (read_jsonl(vdir / f"judge_results_ff_model_judge_{tail}.jsonl"),
                         read_jsonl(vdir / f"judge_results_mp_model_judge_{tail}.jsonl"),
                         json.loads((vdir / "score.json").read_text()), report)
    assert runs["vllm"] == runs["hf"]
    ff, mp, scores, report = runs["vllm"]
    assert [x["judge_response"] for x in ff + mp] == ["".join(pieces)] * 10
    assert scores["overall"] == pytest.approx(0.7)
    assert report["free_form"]["rounds"] == report["multiple_choice"]["rounds"] == 1


def test_tensor_parallel_2_on_the_cpu_build_gives_the_same_responses(vllm_chat_run, vllm_chat, data_path, tmp_path):
    """One model over two workers (on a CPU each bound to its own cores): the same greedy answers."""
    out = tmp_path / "tp2"
    done = run_module("mix_eval.evaluate", *argv("local_chat", vllm_chat, data_path, out, "--limit", "20",
                                                 "--backend", "vllm", "--tensor_parallel_size", "2"),
                      timeout=600, env=ENGINE_LOGS)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "tensor_parallel_size=2" in done.stdout + done.stderr
    for split in SPLITS:
        tp2, tp1 = responses(out, "local_chat", split), responses(vllm_chat_run, "local_chat", split)
        assert len(tp2) == 20
        assert all(tp2[i]["response"] == tp1[i]["response"] for i in tp2)


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = {int(c) for c in (task / "children").read_text().split()}
            except OSError:
                continue
            todo.extend(children - found)
            found |= children
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (OSError, IndexError):
        return False


def test_data_parallel_2_on_the_cpu_build_gives_the_same_responses(vllm_chat_run, vllm_chat, data_path, tmp_path):
    """Two engine replicas (on a CPU each on its own core), the items dealt out between
    them: one response file per split, each item once, the same greedy answers. The run
    is SIGKILLed (the writer alone) after its first split: the replicas and their
    engines go with it, and a rerun finishes the second split."""
    out = tmp_path / "dp2"
    cmd = [sys.executable, "-m", "mix_eval.evaluate",
           *argv("local_chat", vllm_chat, data_path, out, "--limit", "20", "--backend", "vllm",
                 "--data_parallel_size", "2")]
    vdir = out / "local_chat" / "mixeval_hard" / VERSION
    first, second = (vdir / f"local_chat_{split}.jsonl" for split in SPLITS)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            env=dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false"))
    deadline = time.time() + 400
    while proc.poll() is None and lines_of(first) < 20 and time.time() < deadline:
        time.sleep(0.005)
    # Frozen at once: warm replicas answer the second split's 20 items in well under a
    # second, so the writer must not write another line while its children are listed.
    os.kill(proc.pid, signal.SIGSTOP)
    below = descendants(proc.pid)
    proc.kill()  # the writer only: its replicas live in their own process groups
    _, err = proc.communicate(timeout=60)
    assert lines_of(first) == 20, err[-3000:]
    assert lines_of(second) < 20, "the second split finished before the kill: nothing left to resume"
    assert len(below) >= 4, below  # two replicas, each with its engine's process
    deadline = time.time() + 30
    while any(alive(p) for p in below) and time.time() < deadline:
        time.sleep(0.2)
    assert not [p for p in below if alive(p)], "replicas outlived the run"
    done = run_module("mix_eval.evaluate", *cmd[3:], timeout=600, env=ENGINE_LOGS)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (done.stdout + done.stderr).count(ENGINE_STARTED) == 2  # two engines ran
    assert sorted(p.name for p in vdir.glob("*.jsonl")) == sorted(f"local_chat_{s}.jsonl" for s in SPLITS)
    for split in SPLITS:
        lines = read_jsonl(vdir / f"local_chat_{split}.jsonl")
        dp2, dp1 = {r["id"]: r for r in lines}, responses(vllm_chat_run, "local_chat", split)
        assert len(lines) == len(dp2) == 20
        assert all(dp2[i]["response"] == dp1[i]["response"] for i in dp2)
        assert json.loads((vdir / f"status_{split}.json").read_text())["args"]["data_parallel_size"] == 2


def test_each_replica_gets_its_own_gpus_or_cores():
    from mix_eval.models.vllm_engine import replica_environments

    gpus = ["0", "1", "2", "3", "4", "5"]
    assert replica_environments(2, 3, on_gpu=True, executor=None, devices=gpus) == [
        {"CUDA_VISIBLE_DEVICES": "0,1,2"}, {"CUDA_VISIBLE_DEVICES": "3,4,5"}]
    assert replica_environments(3, 1, on_gpu=True, executor="mp", devices=["5", "7", "9"]) == [
        {"CUDA_VISIBLE_DEVICES": "5"}, {"CUDA_VISIBLE_DEVICES": "7"}, {"CUDA_VISIBLE_DEVICES": "9"}]
    # a CPU: each worker of each replica bound to its own cores
    assert replica_environments(1, 2, on_gpu=False, executor=None, cores=[3, 2, 1, 0]) == [
        {"VLLM_CPU_OMP_THREADS_BIND": "0,1|2,3"}]
    assert replica_environments(2, 1, on_gpu=False, executor=None, cores=[0, 1, 2]) == [
        {"VLLM_CPU_OMP_THREADS_BIND": "0"}, {"VLLM_CPU_OMP_THREADS_BIND": "1"}]
    # Ray places the workers itself
    assert replica_environments(2, 4, on_gpu=True, executor="ray", devices=[]) == [{}, {}]


@pytest.mark.parametrize("dp, tp, on_gpu, message", [
    (2, 2, True, "--tensor_parallel_size 2 x --data_parallel_size 2 needs 4 GPUs, and this machine shows 3"),
    (1, 4, True, "--tensor_parallel_size 4 needs 4 GPUs, and this machine shows 3"),
    (2, 1, False, "--tensor_parallel_size 1 x --data_parallel_size 2 on a CPU needs 2 cores, and this process "
                  "may use 1"),
])
def test_more_devices_than_there_are_is_refused_before_any_engine_starts(dp, tp, on_gpu, message):
    from mix_eval.errors import ModelError
    from mix_eval.models.vllm_engine import replica_environments

    with pytest.raises(ModelError) as e:
        replica_environments(dp, tp, on_gpu=on_gpu, executor=None, devices=["0", "1", "2"], cores=[0])
    assert str(e.value).startswith(message)


def test_too_many_cores_asked_on_the_command_line_is_one_error(vllm_chat, data_path, tmp_path):
    cores = len(os.sched_getaffinity(0))
    done = run_module("mix_eval.evaluate", *argv("local_chat", vllm_chat, data_path, tmp_path, "--backend", "vllm",
                                                 "--data_parallel_size", str(cores + 1)), timeout=120)
    assert done.returncode == 2
    assert f"needs {cores + 1} cores, and this process may use {cores}: lower them" in done.stderr
    assert "Traceback" not in done.stderr and ENGINE_STARTED not in done.stdout + done.stderr


@pytest.fixture
def ray_cluster(tmp_path):
    """A one-machine Ray cluster of its own, as `ray start --head` makes it (no GPU here), on
    free ports; at the end it stops that cluster only (`--block`: the command stops the
    processes it started when it is terminated), never another one on the machine."""
    ray = shutil.which("ray", path=str(Path(sys.executable).parent))
    assert ray, "Ray is installed by setup.sh"
    gcs, client, agent, agent_grpc, runtime_env, metrics = free_ports(6)
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    log = tmp_path / "ray-head.log"
    with open(log, "wb") as out:
        head = subprocess.Popen([ray, "start", "--head", "--block", "--port", str(gcs), "--num-cpus", "1",
                                 "--ray-client-server-port", str(client), "--dashboard-agent-listen-port", str(agent),
                                 "--dashboard-agent-grpc-port", str(agent_grpc), "--runtime-env-agent-port",
                                 str(runtime_env), "--metrics-export-port", str(metrics),
                                 "--include-dashboard=false", "--disable-usage-stats", "--temp-dir", temp],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: b"Ray runtime started." in log.read_bytes(), head)
        yield f"127.0.0.1:{gcs}"
    finally:
        head.terminate()
        try:
            head.wait(timeout=120)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()
        shutil.rmtree(temp, ignore_errors=True)


def test_ray_without_enough_gpus_in_the_cluster_is_refused_before_any_engine_starts(
        vllm_chat, data_path, tmp_path, ray_cluster):
    done = run_module("mix_eval.evaluate", *argv("local_chat", vllm_chat, data_path, tmp_path, "--backend", "vllm",
                                                 "--distributed_executor_backend", "ray"),
                      timeout=120, env={"RAY_ADDRESS": ray_cluster})
    assert done.returncode == 2, done.stderr[-3000:]
    assert ("--tensor_parallel_size 1 x --data_parallel_size 1 needs 1 GPU, and the Ray cluster has 0 "
            "(vLLM runs over Ray only on GPUs)") in done.stderr
    assert "Traceback" not in done.stderr and ENGINE_STARTED not in done.stdout + done.stderr


def test_ray_without_a_cluster_says_how_to_start_one(vllm_chat, data_path, tmp_path):
    done = run_module("mix_eval.evaluate", *argv("local_chat", vllm_chat, data_path, tmp_path, "--backend", "vllm",
                                                 "--distributed_executor_backend", "ray"),
                      timeout=120, env={"RAY_ADDRESS": ""})  # none: look for a local one
    assert done.returncode == 2
    assert "no Ray cluster to join" in done.stderr and "ray start --head" in done.stderr
    assert "Traceback" not in done.stderr
