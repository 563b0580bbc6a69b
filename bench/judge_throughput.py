"""Judge throughput against a rate-limited OpenAI-compatible server.

Starts ``tests/fake_openai_server.py`` in its own process (``--rate`` requests/s,
token bucket of one second's worth, ``--latency`` seconds per answer), then times a
SEPARATE Python process, start-up included, that sends ``--n`` judge-style requests
through ``mix_eval.llm.pool.run_pool`` with ``--concurrency`` requests in flight,
journaling each result to a JSONL file as it arrives. Requests and 429s are counted
by the server, so the numbers do not depend on the client's own bookkeeping.

Targets: wall time <= 1.2 x the ideal time (n / rate) and <= 10% of requests
rejected with 429. The reference suite measured 2.4x and 61% rejected.

    python bench/judge_throughput.py            # one run, 1000 requests, 50/s, 50 ms
    python bench/judge_throughput.py --runs 3

By default (``--mode compute_metrics``) the timed process is the real scorer,
``python -m mix_eval.compute_metrics``, judging a model folder of ``--n`` synthetic
responses (half free-form, half multiple-choice) with the model parser; the server
answers every request with a valid verdict. ``--mode client`` times a bare
``run_pool`` driver instead.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[1]
SERVER = REPO / "tests" / "fake_openai_server.py"

TARGET_RATIO = 1.2
TARGET_REJECTED = 0.10

JUDGE_SYSTEM = "In this task, I want you to act as a judge."
JUDGE_TEMPLATE = (
    "You will be provided with a question, its golden answer(s), and the model's answer, "
    "while the context of the question is not given here. Your task is to judge how correct "
    "the model's answer is based on the golden answer(s), without seeing the context of the "
    "question, and then give a correctness score. The correctness score should be one of the "
    "below numbers: 0.0 (totally wrong), 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, or 1.0 "
    "(totally right). Your should first briefly give your reasoning process regarding how "
    "the model's answer conforms to or contradicts the golden answer(s), and then give the "
    "correctness score. The correctness score must strictly follow this format: "
    "\"[[score]]\", e.g., \"The correctness score: [[0.5]]\". Below are some examples.\n\n"
    "Question: {question}\nGolden Answer(s): <answer 1> {gold}\nModel's Answer: {answer}\n"
    "Your Judgment:\n"
)


# ---------------------------------------------------------------- the timed process


def driver(base_url: str, n: int, concurrency: int, journal: str) -> None:
    """The timed process: n judge requests through run_pool, one JSONL line each."""
    from mix_eval.llm.pool import run_pool
    from mix_eval.llm.client import ChatClient
    from mix_eval.llm.config import ClientConfig

    config = ClientConfig(api_key="sk-bench-not-a-real-key", model="gpt-3.5-turbo-0125",
                          base_url=base_url, max_concurrency=concurrency,
                          key_setting="MODEL_PARSER_API", label="judge API")
    client = ChatClient(config)
    requests = (
        (i, [{"role": "system", "content": JUDGE_SYSTEM},
             {"role": "user", "content": JUDGE_TEMPLATE.format(
                 question=f"What is {i} + {i}?", gold=str(2 * i), answer=f"It is {2 * i}.")}],
         {"max_tokens": 999, "response_format": {"type": "text"}})
        for i in range(n)
    )
    errors = 0
    with open(journal, "w", encoding="utf-8") as out:
        def on_result(key, result) -> None:
            nonlocal errors
            if isinstance(result, Exception):
                errors += 1
                line = {"id": key, "error": str(result)}
            else:
                line = {"id": key, "judge_response": result.text}
            out.write(json.dumps(line) + "\n")
            out.flush()

        run_pool(client, requests, on_result)
    print(json.dumps({"client_stats": client.stats.as_dict(), "errors": errors}), flush=True)


VERDICT = "The correctness score: [[0.8]]. The option chosen by the model: [[B]]."


def write_responses(root: Path, n: int) -> None:
    """A model folder of n synthetic responses, half free-form, half multiple-choice."""
    vdir = root / "bench_model" / "mixeval_hard" / "bench"
    vdir.mkdir(parents=True)
    with open(vdir / "bench_model_close_freeform_hard.jsonl", "w", encoding="utf-8") as f:
        for i in range(n // 2):
            f.write(json.dumps({"problem_type": "free-form", "context": None, "prompt": f"What is {i} + {i}?",
                                "target": [str(2 * i)], "benchmark_name": "GSM8k", "formated_input": "",
                                "id": str(i), "response": f"It is {2 * i}."}) + "\n")
    with open(vdir / "bench_model_close_multichoice_hard.jsonl", "w", encoding="utf-8") as f:
        for i in range(n - n // 2):
            f.write(json.dumps({"problem_type": "multiple-choice", "context": None, "prompt": f"Pick {i}.",
                                "options": [str(i), str(i + 1)], "target": [0], "benchmark_name": "MMLU",
                                "formated_input": "", "id": str(i), "response": "A"}) + "\n")


def timed_command(base_url: str, args: argparse.Namespace, workdir: str) -> Tuple[List[str], Dict[str, str]]:
    """The command whose wall time is measured, and its environment."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               MODEL_PARSER_API="sk-bench-not-a-real-key")
    if args.mode == "compute_metrics":
        write_responses(Path(workdir), args.n)
        argv = [sys.executable, "-m", "mix_eval.compute_metrics", "--benchmark", "mixeval_hard",
                "--version", "bench", "--model_response_dir", workdir, "--api_base_url", base_url,
                "--api_parallel_num", str(args.concurrency)]
        return argv, env
    argv = [sys.executable, str(Path(__file__).resolve()), "--driver", "--base-url", base_url,
            "--n", str(args.n), "--concurrency", str(args.concurrency),
            "--journal", os.path.join(workdir, "journal.jsonl")]
    return argv, env


# ---------------------------------------------------------------- the harness


def start_server(rate: float, latency: float, burst: Optional[float]) -> Tuple[subprocess.Popen, str]:
    argv = [sys.executable, str(SERVER), "--rate", str(rate), "--latency", str(latency), "--reply", VERDICT]
    if burst is not None:
        argv += ["--burst", str(burst)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip() if proc.stdout else ""
    if not url.startswith("http"):
        proc.kill()
        raise SystemExit(f"the fake server did not start: {proc.stderr.read() if proc.stderr else ''}")
    return proc, url


def server_stats(base_url: str) -> dict:
    root = base_url.rsplit("/v1", 1)[0]
    with urllib.request.urlopen(root + "/_fake/stats", timeout=10) as r:
        return json.loads(r.read())


def one_run(args: argparse.Namespace) -> dict:
    proc, url = start_server(args.rate, args.latency, args.burst)
    try:
        with tempfile.TemporaryDirectory() as work:
            argv, env = timed_command(url, args, work)
            t0 = time.perf_counter()
            done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=args.max_time, cwd=work)
            wall = time.perf_counter() - t0
            if done.returncode != 0:
                raise SystemExit(f"the timed command failed ({done.returncode}):\n{done.stderr[-3000:]}")
            stats = server_stats(url)
            client = {}
            for line in done.stdout.splitlines():
                if line.startswith("{"):
                    client = json.loads(line)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    counts = stats["status_counts"]
    sent = stats["chat_requests"]
    n429 = int(counts.get("429", 0))
    ideal = args.n / args.rate
    return {"wall_s": wall, "ideal_s": ideal, "ratio": wall / ideal, "requests": sent,
            "ok": int(counts.get("200", 0)), "rejected_429": n429,
            "rejected_share": n429 / sent if sent else 0.0, "client": client}


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description="Time judge requests against a rate-limited fake server.")
    p.add_argument("--n", type=int, default=1000, help="requests (default 1000)")
    p.add_argument("--rate", type=float, default=50.0, help="server limit, requests/s (default 50)")
    p.add_argument("--burst", type=float, default=None, help="server bucket size (default = rate)")
    p.add_argument("--latency", type=float, default=0.05, help="server latency, s (default 0.05)")
    p.add_argument("--concurrency", type=int, default=100, help="max_concurrency (default 100)")
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--mode", choices=["compute_metrics", "client"], default="compute_metrics",
                   help="time the real scorer (default) or a bare run_pool driver")
    p.add_argument("--max-time", type=float, default=600.0, help="kill the timed command after this")
    p.add_argument("--json", action="store_true", help="print one JSON object per run")
    p.add_argument("--driver", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--base-url", help=argparse.SUPPRESS)
    p.add_argument("--journal", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.driver:
        driver(args.base_url, args.n, args.concurrency, args.journal)
        return 0

    print(f"{args.n} judge requests, max_concurrency {args.concurrency}, server limit "
          f"{args.rate:g} req/s, latency {args.latency * 1000:g} ms; ideal {args.n / args.rate:.1f} s")
    ok = True
    for run in range(1, args.runs + 1):
        r = one_run(args)
        passed = r["ratio"] <= TARGET_RATIO and r["rejected_share"] <= TARGET_REJECTED \
            and r["ok"] >= args.n
        ok &= passed
        if args.json:
            print(json.dumps({"run": run, **r, "pass": passed}))
            continue
        print(f"run {run}: wall {r['wall_s']:.2f} s, ideal {r['ideal_s']:.1f} s, ratio {r['ratio']:.2f} "
              f"(target <= {TARGET_RATIO}); requests sent {r['requests']}, answered {r['ok']}, "
              f"429 {r['rejected_429']}, rejected share {r['rejected_share']:.1%} "
              f"(target <= {TARGET_REJECTED:.0%}) -> {'PASS' if passed else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
