"""A 1000-item MixEval-Hard run through Inspect against this package's own path.

Starts two loopback servers (``tests/fake_openai_server.py``, each in its own process):
a model server answering every request with a short answer, and a judge server whose
reply holds a verdict of either kind. Then times, each as a fresh process (start-up
included), on the same 1000 items with the same judge:

* ``own``: ``python -m mix_eval.evaluate --model_name openai_compatible`` (generation
  with ``--batch_size``, then the judge with ``--api_parallel_num``);
* ``inspect``: ``inspect eval mix_eval/mixeval_hard`` with ``--model-role grader``
  (``--max-connections``), log written, realtime log off;
* ``inspect+import``: that run's log through ``python -m mix_eval.import_run`` and
  ``compute_metrics`` (the verdicts replayed from the log: no judge call).

and prints each time and its ratio to ``own``. Needs ``pip install -e '.[inspect]'`` (the
task is found through its entry point).

    python bench/frameworks_inspect.py                 # one run of each, ~2 min on 2 cores
    python bench/frameworks_inspect.py --runs 3 --latency 0.05
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SERVER = REPO / "tests" / "fake_openai_server.py"
VERSION = "2024-06-01"
JUDGE = "gpt-3.5-turbo-0125"
ANSWER = "The answer is A."
VERDICT = "The option chosen by the model: [[A]]. The correctness score: [[1.0]]"  # a verdict of each kind


def start_server(reply: str, latency: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, str(SERVER), "--reply", reply, "--latency", str(latency)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip()
    if not url.startswith("http"):
        proc.kill()
        raise SystemExit(f"the loopback server did not start: {proc.stderr.read()}")
    return proc, url


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return elapsed


def one_run(model_url: str, judge_url: str, concurrency: int) -> dict[str, float]:
    env = {**os.environ, "MODEL_PARSER_API": "sk-bench", "LOOP_BASE_URL": model_url, "LOOP_API_KEY": "sk-bench",
           "JUDGE_BASE_URL": judge_url, "JUDGE_API_KEY": "sk-bench", "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    env.pop("PYTHONPATH", None)  # the installed package, with its inspect_ai entry point
    with tempfile.TemporaryDirectory(prefix="bench_frameworks_") as tmp:
        work = Path(tmp)
        own = timed([sys.executable, "-m", "mix_eval.evaluate", "--model_name", "openai_compatible",
                     "--model_base_url", model_url, "--model_id", "m1", "--output_name", "m1", "--benchmark", "mixeval_hard",
                     "--version", VERSION, "--batch_size", str(concurrency), "--api_base_url", judge_url,
                     "--api_parallel_num", str(concurrency), "--output_dir", str(work / "own")], env, work)
        inspect = timed([sys.executable, "-m", "inspect_ai", "eval", "mix_eval/mixeval_hard",
                         "--model", "openai-api/loop/m1", "--model-role", f"grader=openai-api/judge/{JUDGE}",
                         "-T", f"version={VERSION}", "--max-connections", str(concurrency),
                         "--log-dir", str(work / "logs"), "--display", "none", "--no-log-realtime"], env, work)
        (log,) = (work / "logs").glob("*.eval")
        imported = timed([sys.executable, "-m", "mix_eval.import_run", "--framework", "inspect", str(log),
                          "--output_dir", str(work / "imported"), "--output_name", "m1"], env, work)
        imported += timed([sys.executable, "-m", "mix_eval.compute_metrics", "--benchmark", "mixeval_hard",
                           "--version", VERSION, "--model_response_dir", str(work / "imported"),
                           "--api_base_url", judge_url], env, work)
        scores = [json.loads((work / d / "m1" / "mixeval_hard" / VERSION / "score.json").read_text())
                  for d in ("own", "imported")]
        if scores[0] != scores[1]:
            raise SystemExit(f"the two paths scored differently: {scores}")
    return {"own": own, "inspect": inspect, "inspect+import": inspect + imported}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--latency", type=float, default=0.0, help="seconds before each server answer")
    p.add_argument("--concurrency", type=int, default=64,
                   help="requests in flight: --batch_size / --api_parallel_num and Inspect's --max-connections")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    servers = [start_server(ANSWER, args.latency), start_server(VERDICT, args.latency)]
    try:
        runs = [one_run(servers[0][1], servers[1][1], args.concurrency) for _ in range(args.runs)]
    finally:
        for proc, _ in servers:
            proc.terminate()
            proc.wait(timeout=10)
    if args.json:
        print(json.dumps(runs))
        return
    print(f"MixEval-Hard, 1000 items, model and judge on loopback servers (latency {args.latency} s, "
          f"{args.concurrency} in flight); wall seconds, process start included")
    for i, run in enumerate(runs, 1):
        own = run["own"]
        print(f"run {i}: " + ", ".join(f"{path} {t:.1f} s ({t / own:.2f}x)" for path, t in run.items()))
    best = {path: min(r[path] for r in runs) for path in runs[0]}
    print("best:  " + ", ".join(f"{path} {t:.1f} s" for path, t in best.items())
          + f"; inspect / own = {best['inspect'] / best['own']:.2f}, "
            f"inspect+import / own = {best['inspect+import'] / best['own']:.2f}")


if __name__ == "__main__":
    main()
