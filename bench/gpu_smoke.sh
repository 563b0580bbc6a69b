#!/usr/bin/env bash
# A short GPU check of the generation path (run on a machine with an NVIDIA GPU):
# dtype and attention choice, a full MixEval-Hard inference run, a SIGKILL mid-run and
# its resume, and the generation tests. Uses the packaged benchmark and the reference
# responses kept under tests/fixtures. Prints what it measured.
set -uo pipefail
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
REF=tests/fixtures/reference/model_responses/gemma_11_7b_instruct
PY=${PYTHON:-python3}
T=$(mktemp -d)
nvidia-smi -L
$PY -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, 'cuda', torch.cuda.is_available())"
$PY -m mix_eval.utils.tiny_checkpoint "$T/tiny" >/dev/null

echo "== model as loaded on this machine"
$PY - "$T/tiny" <<'PY'
import sys, time
from types import SimpleNamespace
from mix_eval.api.registry import get_model
args = SimpleNamespace(model_path=sys.argv[1], max_new_tokens=8, dtype=None, max_gpu_memory=None,
                       model_systemprompt=None, batch_size=1)
m = get_model("local_chat")(args)
print("device", m.model.device, "dtype", m.model.dtype, "attn", m.model.config._attn_implementation,
      "hf_device_map", getattr(m.model, "hf_device_map", None))
PY

run() { $PY -m mix_eval.evaluate --model_name local_chat --model_path "$T/tiny" --benchmark mixeval_hard \
    --version 2024-06-01 --batch_size 50 --inference_only --max_new_tokens 8 "$@"; }

echo "== full run"
start=$(date +%s%N); run --output_dir "$T/full" 2>&1 | grep -v "item/s" | tail -4; end=$(date +%s%N)
echo "full run wall: $(( (end - start) / 1000000 )) ms"

echo "== SIGKILL mid-run, then resume"
$PY -m mix_eval.evaluate --model_name local_chat --model_path "$T/tiny" --benchmark mixeval_hard \
    --version 2024-06-01 --batch_size 50 --inference_only --max_new_tokens 8 \
    --output_dir "$T/killed" >/dev/null 2>&1 &
pid=$!  # the Python process itself, so that SIGKILL reaches the writer
f="$T/killed/local_chat/mixeval_hard/2024-06-01/local_chat_close_freeform_hard.jsonl"
for _ in $(seq 1 3000); do n=$( [ -f "$f" ] && wc -l < "$f" || echo 0); [ "$n" -ge 200 ] && break; sleep 0.01; done
kill -9 $pid; wait $pid 2>/dev/null; echo "killed at $(wc -l < "$f") lines"
run --output_dir "$T/killed" 2>&1 | tail -2
$PY - "$T" "$REF" <<'PY'
import json, sys
t, ref_dir = sys.argv[1:]
for split, ref in (("close_freeform_hard", "gemma_11_7b_instruct_close_freeform_hard"),
                   ("close_multichoice_hard", "gemma_11_7b_instruct_close_multichoice_hard")):
    for run in ("full", "killed"):
        d = f"{t}/{run}/local_chat/mixeval_hard/2024-06-01"
        lines = [json.loads(l) for l in open(f"{d}/local_chat_{split}.jsonl")]
        ids = [x["id"] for x in lines]
        status = json.load(open(f"{d}/status_{split}.json"))["status"]
        refs = {json.loads(l)["id"]: json.loads(l) for l in open(
            f"{ref_dir}/mixeval_hard/2024-06-01/{ref}.jsonl")}
        same = sum(x["formated_input"] == refs[x["id"]]["formated_input"] for x in lines)
        print(run, split, "lines", len(ids), "distinct", len(set(ids)), "inputs equal ref", same,
              "status", status["status"], "time %.1fs" % status["time_elapsed"])
PY
$PY -m mix_eval.utils.check_eval_complete --benchmark mixeval_hard --version 2024-06-01 \
    --chat_models_to_check local_chat --base_models_to_check none --model_response_dir "$T/killed" \
    --out_path "$T/checks.log"; echo "check_eval_complete rc=$?"

echo "== generation tests on this machine"
$PY -m pytest -q -x -p no:cacheprovider tests/test_generation.py tests/test_local_judge.py 2>&1 | tail -15
