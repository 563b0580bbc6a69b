"""A 1000-item MixEval-Hard run through lm-evaluation-harness vs this package's own path.

    python bench/frameworks_lm_eval.py [--latency 0.05] [--concurrency 16] [--runs 1] [--json]

Starts the loopback OpenAI-compatible server (`tests/fake_openai_server.py`) in this
process, answering each chat request after ``--latency`` seconds, and times two child
processes against it, start-up included, with the same number of requests in flight:

* this package: ``python -m mix_eval.evaluate --model_name openai_compatible ... --inference_only
  --batch_size N`` (the response files);
* lm-eval: ``python -m lm_eval run --model local-chat-completions --apply_chat_template --tasks
  mixeval_hard --include_path <mix_eval's tasks> --log_samples`` with ``num_concurrent=N``
  (its logs), then the import of those logs (`read_lm_eval_samples`), timed apart.

Prints each time and the ratio lm-eval ÷ this package (generation alone, and with the import).
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
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from fake_openai_server import FakeOpenAIServer  # noqa: E402

VERSION = "2024-08-11"


def timed(cmd: list[str], cwd: Path) -> float:
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    start = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd[:4])} ... failed ({out.returncode}):\n{out.stderr[-3000:]}")
    return elapsed


def one_run(server: FakeOpenAIServer, concurrency: int, tmp: Path) -> dict[str, float]:
    from mix_eval.integrations.lm_eval import include_path
    from mix_eval.integrations.lm_eval_import import read_lm_eval_samples

    server.reset()
    ours = timed([sys.executable, "-m", "mix_eval.evaluate", "--model_name", "openai_compatible",
                  "--model_base_url", server.base_url, "--model_id", "bench-ours", "--benchmark", "mixeval_hard",
                  "--version", VERSION, "--batch_size", str(concurrency), "--output_dir", str(tmp / "ours"),
                  "--inference_only"], tmp)
    asked_ours = server.count(200)
    server.reset()
    theirs = timed([sys.executable, "-m", "lm_eval", "run", "--model", "local-chat-completions", "--model_args",
                    f"model=bench-lm-eval,base_url={server.base_url}/chat/completions,num_concurrent={concurrency}",
                    "--tasks", "mixeval_hard", "--include_path", str(include_path()), "--apply_chat_template",
                    "--log_samples", "--output_path", str(tmp / "theirs")], tmp)
    asked_theirs = server.count(200)
    start = time.perf_counter()
    run = read_lm_eval_samples(tmp / "theirs")
    imported = time.perf_counter() - start
    items = sum(len(v) for v in run.responses.values())
    if not (asked_ours == asked_theirs == items == 1000):
        sys.exit(f"expected 1000 requests and items each: {asked_ours}, {asked_theirs}, {items}")
    return {"mix_eval_s": ours, "lm_eval_s": theirs, "import_s": imported, "ratio": theirs / ours,
            "ratio_with_import": (theirs + imported) / ours}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--latency", type=float, default=0.05, help="seconds before each answer (default 0.05)")
    p.add_argument("--concurrency", type=int, default=16, help="requests in flight, both paths (default 16)")
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--json", action="store_true")
    a = p.parse_args()

    results = []
    with FakeOpenAIServer(latency=a.latency) as server:
        for _ in range(a.runs):
            with tempfile.TemporaryDirectory() as tmp:
                results.append(one_run(server, a.concurrency, Path(tmp)))
    if a.json:
        print(json.dumps({"latency": a.latency, "concurrency": a.concurrency, "runs": results}, indent=2))
        return
    ideal = 1000 * a.latency / a.concurrency
    print(f"MixEval-Hard {VERSION}, 1000 items; server latency {a.latency} s, {a.concurrency} in flight "
          f"(ideal {ideal:.1f} s of requests); times include each process's start")
    for r in results:
        print(f"mix_eval (openai_compatible): {r['mix_eval_s']:6.1f} s")
        print(f"lm-eval (local-chat-completions): {r['lm_eval_s']:6.1f} s, then the import {r['import_s']:.2f} s")
        print(f"ratio lm-eval / mix_eval: {r['ratio']:.2f}x ({r['ratio_with_import']:.2f}x with the import)")


if __name__ == "__main__":
    main()
