"""`python -m mix_eval.bundle`: one archive of a run that anyone can read and check.

Usage::

    python -m mix_eval.bundle [--model_response_dir DIR] [--models_to_eval M ...] \\
        [--benchmark {mixeval,mixeval_hard}] [--version V] --out run.tar.gz
    python -m mix_eval.bundle --verify run.tar.gz

The first packs the chosen model folders' response, status and judged files, scores,
intervals, judge reports and manifests, with the folder's report and answers explorer
(no journal, lock or log). The second unpacks a bundle into a temporary folder, scores
its judged files again and checks that they give every ``score.json`` it holds and that
the run is complete: exit status 0 with a summary, or 2 with the first problem found.
The work is `mix_eval.run_bundle`.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional, Sequence

from mix_eval.cli import flags
from mix_eval.cli.process import run_command, run_process
from mix_eval.folders import SCORE_FILE


def build_parser() -> argparse.ArgumentParser:
    p = flags.new_parser("python -m mix_eval.bundle",
                         "Pack a run's files into one archive (--out), or check such an archive (--verify).")
    flags.add_bundle_flags(p)
    flags.add_verbose_flag(p)
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    ns = build_parser().parse_args(argv)
    if ns.verify:
        return run_command(lambda: _verify(Path(ns.verify)), verbose=ns.verbose, log_dir=None,
                           saved="Nothing was written", context="bundle --verify")
    return run_command(lambda: _bundle(ns), verbose=ns.verbose, log_dir=ns.model_response_dir,
                       saved="Nothing was written", context="bundle")


def _bundle(ns: argparse.Namespace) -> None:
    from mix_eval.run_bundle import write_bundle

    bundle = write_bundle(flags.report_settings(ns), Path(ns.out))
    for folder in bundle.folders:
        print(f"  {folder}")
    print(f"Bundle of {len(bundle.folders)} model folder(s), {bundle.files} files: {bundle.path} "
          f"({bundle.size / 1e6:.1f} MB). Check it with: python -m mix_eval.bundle --verify {bundle.path}")


def _verify(archive: Path) -> None:
    from mix_eval.run_bundle import check, verify_bundle

    verification = check(verify_bundle(archive))
    for line in verification.lines:
        print(f"  {line}")
    print(f"{archive}: verified; every {SCORE_FILE} it holds is what its judged files give")


if __name__ == "__main__":
    run_process(main)
