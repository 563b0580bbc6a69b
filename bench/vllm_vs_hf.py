"""vLLM against transformers `generate` on MixEval-Hard's formatted inputs.

    python bench/vllm_vs_hf.py [--items 300] [--new_tokens 64] [--batch_sizes 50] [--hidden 512 --layers 6]

A random Llama-style checkpoint is built locally (no weights can be downloaded here;
head size 64, which vLLM's CPU attention needs), float32 on a CPU, the checkpoint's
dtype on a GPU. Each backend runs in a process of its own, as a user's run would, on the
chat template of the first N items of MixEval-Hard 2024-06-01 (free-form then
multiple-choice), with a fixed number of new tokens (end of sequence ignored). Printed:
tokens/s of the generation phase and of the whole process (start-up, loading, engine
start included), and vLLM's ratios to the best `hf` batch size. Both the `hf` figures
and the ratio depend on the machine; see the closing notes of issue 11 for ours.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STARTED = time.time()


def build_checkpoint(path: Path, hidden: int, layers: int) -> Path:
    from mix_eval.models.tiny import build_tiny_checkpoint

    return build_tiny_checkpoint(path, hidden_size=hidden, num_layers=layers,
                                 num_attention_heads=hidden // 64, num_key_value_heads=hidden // 64)


def prompts(n: int) -> list[str]:
    from mix_eval.data import load_split, splits_for

    items = []
    for split in splits_for("mixeval_hard"):
        items += load_split("mix_eval/data/", "2024-06-01", split)
    return [item["formated_input"] for item in items[:n]]


def worker(args: argparse.Namespace) -> None:
    """One backend in this process; prints its figures as one JSON line."""
    from mix_eval.api.registry import get_model
    from mix_eval.batching import length_sorted_batches
    from mix_eval.settings import GenerationSettings, ModelSettings

    inputs = prompts(args.items)
    model = get_model("local_chat")(ModelSettings(
        "local_chat", model_path=args.checkpoint,
        generation=GenerationSettings(batch_size=args.batch_size, max_new_tokens=args.new_tokens,
                                      backend=args.backend, dtype="float32" if args.cpu else None)))
    loaded = time.time()
    tok = model.tokenizer
    rendered = [model.render(x) for x in inputs]
    ids = tok(rendered, max_length=model.max_input_length_closeend, truncation=True)["input_ids"]
    if args.backend == "vllm":
        new = model.engine.generator.generate(ids, args.new_tokens, {"temperature": 0.0, "ignore_eos": True})
        tokens = sum(len(t) for t in new)
    else:
        model.gen_kwargs = {"min_new_tokens": args.new_tokens, "do_sample": False}
        tokens = 0
        for batch in length_sorted_batches([len(i) for i in ids], args.batch_size):
            answers = model.respond([inputs[i] for i in batch])
            tokens += args.new_tokens * len(answers)
    done = time.time()
    model.close()
    print(json.dumps({"backend": args.backend, "batch_size": args.batch_size, "tokens": tokens,
                      "load_s": loaded - STARTED, "generate_s": done - loaded, "process_s": done - STARTED}))


def run(checkpoint: Path, backend: str, batch_size: int, a: argparse.Namespace, cpu: bool) -> dict:
    cmd = [sys.executable, __file__, "--worker", "--checkpoint", str(checkpoint), "--backend", backend,
           "--batch_size", str(batch_size), "--items", str(a.items), "--new_tokens", str(a.new_tokens)]
    if cpu:
        cmd.append("--cpu")
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{backend} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    p.add_argument("--items", type=int, default=300)
    p.add_argument("--new_tokens", type=int, default=64)
    p.add_argument("--batch_sizes", type=int, nargs="+", default=[50], help="hf batch sizes to try")
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--backends", nargs="+", default=["hf", "vllm"], choices=["hf", "vllm"],
                   help="hf alone where vLLM is not installed (figures of the hf backend only)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--checkpoint", help=argparse.SUPPRESS)
    p.add_argument("--backend", help=argparse.SUPPRESS)
    p.add_argument("--batch_size", type=int, default=50, help=argparse.SUPPRESS)
    p.add_argument("--cpu", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        worker(a)
        return
    import torch

    cpu = not torch.cuda.is_available()
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = build_checkpoint(Path(tmp) / "bench-llama", a.hidden, a.layers)
        print(f"{a.items} MixEval-Hard items x {a.new_tokens} new tokens, random Llama hidden {a.hidden}, "
              f"{a.layers} layers, on {'CPU' if cpu else 'GPU'}")
        results = [run(checkpoint, "hf", b, a, cpu) for b in a.batch_sizes] if "hf" in a.backends else []
        if "vllm" in a.backends:
            results.append(run(checkpoint, "vllm", max(a.batch_sizes), a, cpu))
    for r in results:
        print(f"{r['backend']:>4} batch {r['batch_size']:>4}: generation {r['tokens'] / r['generate_s']:8.1f} tok/s "
              f"({r['generate_s']:.1f} s), whole process {r['tokens'] / r['process_s']:8.1f} tok/s "
              f"({r['process_s']:.1f} s, of which start-up and loading {r['load_s']:.1f} s)")
    if set(a.backends) != {"hf", "vllm"}:
        return
    best = max(results[:-1], key=lambda r: r["tokens"] / r["generate_s"])
    vllm = results[-1]
    print(f"vllm / hf (batch {best['batch_size']}): generation {best['generate_s'] / vllm['generate_s']:.2f}x, "
          f"whole process {best['process_s'] / vllm['process_s']:.2f}x")


if __name__ == "__main__":
    main()
