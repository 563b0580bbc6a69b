"""How much length-sorted batching saves over batching in data order (the reference's).

    python bench/generation_sorting.py [--data_path DIR]   (default: the packaged data)

Generates the 500 MixEval-Hard free-form items with a tiny random checkpoint on the
CPU, batch 50, 16 new tokens, once with batches in data order and once with the
engine's length-sorted batches, and prints both times and their ratio. The reference
measured 2.2x on its own ChatModel in the same setting.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from types import SimpleNamespace

from mix_eval.api.registry import get_model
from mix_eval.data import load_split, splits_for
from mix_eval.batching import length_sorted_batches
from mix_eval.models.tiny import build_tiny_checkpoint


def timed(model, inputs: list[str], batches: list[list[int]]) -> float:
    start = time.perf_counter()
    for batch in batches:
        model.respond([inputs[i] for i in batch])
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data_path", default=None)
    p.add_argument("--version", default="2024-06-01")
    p.add_argument("--batch_size", type=int, default=50)
    p.add_argument("--max_new_tokens", type=int, default=16)
    a = p.parse_args()

    items = load_split(a.data_path, a.version, splits_for("mixeval_hard")[0])
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = build_tiny_checkpoint(tmp)
        args = SimpleNamespace(model_path=str(ckpt), max_new_tokens=a.max_new_tokens, dtype=None,
                               max_gpu_memory=None, model_systemprompt=None, batch_size=a.batch_size)
        model = get_model("local_chat")(args)
        inputs = [it["formated_input"] for it in items]
        data_order = [list(range(i, min(i + a.batch_size, len(inputs)))) for i in range(0, len(inputs), a.batch_size)]
        timed(model, inputs, data_order[:1])  # warm-up
        t_data = timed(model, inputs, data_order)
        t_sorted = timed(model, inputs, length_sorted_batches(model.input_lengths(inputs), a.batch_size))
    print(f"items: {len(inputs)}, batch {a.batch_size}, {a.max_new_tokens} new tokens, CPU tiny checkpoint")
    print(f"data order:    {t_data:7.2f} s")
    print(f"length-sorted: {t_sorted:7.2f} s")
    print(f"speed-up:      {t_data / t_sorted:7.2f}x")


if __name__ == "__main__":
    main()
