"""`python -m mix_eval.import_run`: another framework's run as a response folder.

Usage::

    python -m mix_eval.import_run --framework inspect logs/2026-01-01T00-00-00_mixeval-hard_x.eval \\
        [--output_dir DIR] [--output_name NAME] [--data_path DIR]
    python -m mix_eval.import_run --framework lm_eval lm_eval_out [...]

writes ``<output_dir>/<name>/<benchmark>/<version>/`` (response and status files, and judged
files when the run holds MixEval's verdicts; `run_manifest.json` names the framework),
then prints the ``compute_metrics`` command that scores it. The work is
`mix_eval.integrations.readers.import_run`; each framework's reader is imported only when
asked for.
"""
from __future__ import annotations

import argparse
from typing import Optional, Sequence

from mix_eval.cli import flags
from mix_eval.cli.process import run_command, run_process
from mix_eval.settings import DEFAULT_OUTPUT_DIR


def build_parser() -> argparse.ArgumentParser:
    p = flags.new_parser("python -m mix_eval.import_run",
                         "Write another framework's MixEval run (an Inspect log, lm-eval's --log_samples output) "
                         "as a mix_eval response folder.")
    p.add_argument("path", help="The run to import: an Inspect log file (.eval or .json), or lm-eval's "
                   "--output_path folder (or a results_*.json in it).")
    p.add_argument("--framework", required=True, choices=["inspect", "lm_eval"],
                   help="The framework that made it.")
    p.add_argument("--output_dir", default=DEFAULT_OUTPUT_DIR, help="Folder of model folders to write into.")
    p.add_argument("--output_name", default=None,
                   help="The model folder's name (default: the framework's model name, slashes made '_').")
    p.add_argument("--data_path", default=None,
                   help="Folder holding mixeval-<version>/ (default: the benchmark shipped with mix_eval).")
    flags.add_verbose_flag(p)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    ns = build_parser().parse_args(argv)
    return run_command(lambda: _import(ns), verbose=ns.verbose, log_dir=None, saved="Nothing was imported",
                       context=f"import_run, {ns.framework} run {ns.path}")


def _import(ns: argparse.Namespace) -> object:
    from mix_eval.integrations.readers import import_run
    from mix_eval.integrations.writer import score_command

    run, vdir = import_run(ns.framework, ns.path, ns.output_dir, output_name=ns.output_name, data_path=ns.data_path)
    print(f"Imported the {run.framework} {run.framework_version} run of {run.model} into {vdir}\n"
          f"Score it with:\n  {score_command(run, vdir, ns.data_path)}")
    return vdir


if __name__ == "__main__":
    run_process(main)
