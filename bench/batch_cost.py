"""Tokens and cost of a whole judging run, live and through the Batch API.

Copies a model's response files (default: the reference's gemma-1.1-7b-instruct MixEval
2024-06-01 responses kept in tests/fixtures) into two temporary run folders, starts the
loopback server (`tests/fake_openai_server.py`) with the tests' deterministic judge,
and runs ``python -m mix_eval.compute_metrics`` on one folder live and on the other with
``--judge_mode batch``. Prints each split's tokens and cost from ``judge_report.json``,
the number of batches, and whether the two ``score.json`` files are identical.

The server's usage is synthetic: here prompt tokens are estimated as one token per
4 characters of each message plus 4 per message and 3 per request (OpenAI's rule of
thumb and its chat overhead), completion tokens as one per 4 characters of the reply;
no tokenizer is used.

    python bench/batch_cost.py
    python bench/batch_cost.py --responses DIR --model NAME --benchmark mixeval --version 2024-06-01
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from conftest import judge_reply  # noqa: E402  (the tests' deterministic judge)
from fake_openai_server import FakeOpenAIServer  # noqa: E402

KEY = "sk-bench-key"


def estimated_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


class EstimatingServer(FakeOpenAIServer):
    """The loopback server with usage estimated from characters (see the module doc)."""

    def usage(self, body: Dict[str, Any], text: str) -> Dict[str, Any]:
        messages = [m for m in body.get("messages", []) if isinstance(m, dict)]
        prompt = sum(estimated_tokens(str(m.get("content", ""))) + 4 for m in messages) + 3
        completion = estimated_tokens(text)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def run(root: Path, server: FakeOpenAIServer, args: argparse.Namespace, *extra: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO), "MODEL_PARSER_API": KEY, "MIX_EVAL_BATCH_POLL_SECONDS": "0.05"}
    env.pop("OPENAI_API_TYPE", None)
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "mix_eval.compute_metrics", "--benchmark", args.benchmark,
                           "--version", args.version, "--model_response_dir", str(root), "--api_base_url",
                           server.base_url, "--api_parallel_num", "32", *extra],
                          capture_output=True, text=True, env=env, cwd=root)
    if proc.returncode != 0:
        sys.exit(f"compute_metrics failed:\n{proc.stderr[-3000:]}")
    return time.monotonic() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--responses", type=Path, default=None, help="folder of the model's response files")
    p.add_argument("--model", default="gemma_11_7b_instruct")
    p.add_argument("--benchmark", default="mixeval")
    p.add_argument("--version", default="2024-06-01")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    src = args.responses or (REPO / "tests" / "fixtures" / "reference" / "model_responses" / args.model
                             / args.benchmark / args.version)
    results: Dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("live", "batch"):
            root = Path(tmp) / mode
            vdir = root / args.model / args.benchmark / args.version
            vdir.mkdir(parents=True)
            for f in sorted(src.glob("*.jsonl")):
                shutil.copy(f, vdir / f.name)
            with EstimatingServer(reply=judge_reply, api_key=KEY) as server:
                seconds = run(root, server, args, "--judge_mode", mode)
                report = json.loads((vdir / "judge_report.json").read_text())
                results[mode] = {"seconds": round(seconds, 1), "batches": server.batch_creates,
                                 "live_calls": len(server.chat_requests()), "report": report,
                                 "score": (vdir / "score.json").read_bytes().decode()}
    same = results["live"]["score"] == results["batch"]["score"]
    if args.json:
        print(json.dumps({**results, "identical_score_json": same}, indent=2))
        return
    print(f"{args.model} {args.benchmark} {args.version}; usage estimated at 4 characters per token")
    for mode, r in results.items():
        total = 0.0
        for split, s in r["report"].items():
            print(f"  {mode:5} {split:15} {s['items']:5} items {s['judge_calls']:5} calls {s['rounds']:2} round(s) "
                  f"{s['prompt_tokens']:9} prompt {s['completion_tokens']:7} completion tokens "
                  f"${s['cost_usd']:.4f} ({s['judge_mode']})")
            total += s["cost_usd"] or 0.0
        print(f"  {mode:5} total ${total:.4f}; {r['batches']} batch(es), {r['live_calls']} live calls, "
              f"{r['seconds']} s")
    print(f"score.json identical: {same}")


if __name__ == "__main__":
    main()
