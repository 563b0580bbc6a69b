"""How far two judges of the same responses agree, and how far one moves the scores.

Two judges that judged the same model folders leave their judged files side by side
(``judge_results_{ff,mp}_model_judge_<judge>.jsonl``, named by `mix_eval.folders.judged_file_name`). This
reads them, with no judge call, scores each judge's files exactly as ``score.json`` is
scored (`mix_eval.scoring.scores`), and sets them against each other per model::

    {"baseline": A, "other": B, "benchmark": "mixeval_hard", "version": "2024-06-01",
     "models": {"<model folder>": {
         "overall": {"baseline": 0.27, "other": 0.29, "delta": 0.02, "ci95": [0.01, 0.03]},
         "free_form": {"items": 500, "mean_abs_diff": 0.08, "exact_agreement": 0.92},
         "multiple_choice": {"items": 500, "agreement": 0.9, "kappa": 0.75},
         "benchmarks": {"<score.json key>": {"baseline": ..., "other": ..., "delta": ...}, ...}}},
     "rank_correlation": {"kendall_tau": 0.33, "models": 3}}

Scores are on ``score.json``'s scale (0 to 1) and ``delta`` is other minus baseline;
``ci95`` is a paired bootstrap 95% interval of the overall delta (both judges' scores on
the same resampled items, taken in id order: `intervals.paired_delta_intervals`).
Free-form: the items, the mean absolute difference of the two ``judge_score``s, and the
share of equal ones. Multiple-choice: the share of items both judged right or both wrong (right as scoring
decides it: the option letter is the target's) and Cohen's kappa of that right/wrong;
when both judges call every item the same one way, chance agreement is 1, kappa is 0/0,
and it is reported as 1.0 (the agreement is complete). ``rank_correlation`` is
Kendall's tau-b (ties counted) of the two judges' orderings of the models by overall,
over three or more models; with fewer it is null, and ``kendall_tau`` is null when one
judge gives every model the same overall.
"""
from __future__ import annotations

import logging
import math
import shlex
from pathlib import Path
from typing import Any, Optional, Sequence

from mix_eval.errors import MixEvalError
from mix_eval.folders import AGREEMENT_FILE, SCORE_FILE, judged_file_name, model_version_dir, write_json
from mix_eval.scoring.aggregate import OVERALL
from mix_eval.scoring.inputs import model_folders, read_judged_file
from mix_eval.scoring.intervals import paired_delta_intervals
from mix_eval.scoring.scores import item_scores, score_json
from mix_eval.scoring.table import format_grid, format_interval
from mix_eval.settings import JudgeSettings
from mix_eval.splits import SplitKind

__all__ = ["MIN_RANKED_MODELS", "judge_agreement", "write_judge_agreement",
           "format_agreement", "cohen_kappa", "kendall_tau_b"]

logger = logging.getLogger(__name__)

MIN_RANKED_MODELS = 3  # a rank correlation over fewer models says nothing

Judged = dict[SplitKind, list[dict[str, Any]]]


def judge_agreement(model_response_dir: str, benchmark: str, version: str, judges: Sequence[str],
                    models_to_eval: Optional[Sequence[str]] = None) -> dict[str, Any]:
    """The ``judge_agreement.json`` object of two judges (``judges``: baseline, other)
    over the model folders that both judged (``models_to_eval``, or every folder holding
    either judge's judged files)."""
    baseline, other = judges
    settings = {name: JudgeSettings(freeform_judge=name, multichoice_judge=name) for name in (baseline, other)}
    if baseline == other or any(judged_file_name(settings[baseline], k) == judged_file_name(settings[other], k)
                                for k in SplitKind):
        raise MixEvalError(f"--judges {baseline} {other}: the two judges' judged files are the same files; "
                           "name two different judges")
    root = Path(model_response_dir)
    models = model_folders(model_response_dir, benchmark, version, models_to_eval)
    if not models_to_eval:
        models = _judged_by_either(root, models, benchmark, version, list(settings.values()))
        if not models:
            raise MixEvalError(
                f"no model folder under {root} holds judged files of {baseline} or {other} for "
                f"{benchmark}/{version}; check --model_response_dir, --benchmark, --version and --judges")
    compared = {}
    for model in models:
        compared[model] = _compare_model(_Folder(root, model, benchmark, version), settings[baseline],
                                         settings[other])
    ranks = None
    if len(compared) >= MIN_RANKED_MODELS:
        ranks = {"kendall_tau": kendall_tau_b([m["overall"]["baseline"] for m in compared.values()],
                                              [m["overall"]["other"] for m in compared.values()]),
                 "models": len(compared)}
    return {"baseline": baseline, "other": other, "benchmark": benchmark, "version": version,
            "models": compared, "rank_correlation": ranks}


def write_judge_agreement(model_response_dir: str, agreement: dict[str, Any]) -> Path:
    """``<model_response_dir>/judge_agreement.json``, written atomically."""
    return write_json(Path(model_response_dir) / AGREEMENT_FILE, agreement)


def _judged_by_either(root: Path, models: list[str], benchmark: str, version: str,
                      settings: list[JudgeSettings]) -> list[str]:
    """The folders holding a judged file of either judge (a folder judged by neither is
    not part of the comparison, and is said so)."""
    kept = []
    for model in models:
        vdir = model_version_dir(root, model, benchmark, version)
        if any((vdir / judged_file_name(s, kind)).exists() for s in settings for kind in SplitKind):
            kept.append(model)
        else:
            logger.info("%s: judged by neither judge; left out", model)
    return kept


class _Folder:
    """One model folder's judged files, read for a judge, with errors that say what to run."""

    def __init__(self, root: Path, model: str, benchmark: str, version: str) -> None:
        self.root, self.model, self.benchmark, self.version = root, model, benchmark, version
        self.vdir = model_version_dir(root, model, benchmark, version)

    def path(self, settings: JudgeSettings, kind: SplitKind) -> Path:
        return self.vdir / judged_file_name(settings, kind)

    def read(self, settings: JudgeSettings) -> Judged:
        judged: Judged = {}
        for kind in SplitKind:
            path = self.path(settings, kind)
            if not path.is_file():
                raise MixEvalError(
                    f"{path} is missing: {self.model} has no {kind.label} judgments of {settings.judge(kind)}; "
                    f"make them with {self.judge_command(settings.judge(kind))}")
            judged[kind] = read_judged_file(path, kind, settings.parser(kind))
        return judged

    def judge_command(self, judge: str) -> str:
        flags = ["--benchmark", self.benchmark, "--version", self.version, "--model_response_dir", str(self.root),
                 "--models_to_eval", self.model]
        for kind in SplitKind:
            flags += [f"--{kind.judge_flag}", judge]
        return "python -m mix_eval.compute_metrics " + " ".join(shlex.quote(x) for x in flags)


def _compare_model(folder: _Folder, base_settings: JudgeSettings, other_settings: JudgeSettings) -> dict[str, Any]:
    """One model's figures (see the module docstring)."""
    base, other = folder.read(base_settings), folder.read(other_settings)
    matched = {kind: _matched(folder, kind, base[kind], other[kind], folder.path(base_settings, kind),
                              folder.path(other_settings, kind)) for kind in SplitKind}
    base_scores = score_json(item_scores(base_settings, base))  # each file in its own order, as scored
    other_scores = score_json(item_scores(other_settings, other))
    base_items = item_scores(base_settings, {kind: pair[0] for kind, pair in matched.items()})
    other_items = item_scores(other_settings, {kind: pair[1] for kind, pair in matched.items()})
    paired = [[(name, a, b) for (name, a), (_, b) in zip(base_items[kind], other_items[kind])] for kind in SplitKind]
    low, high = paired_delta_intervals(paired)[OVERALL]
    ff = [(a["judge_score"], b["judge_score"]) for a, b in zip(*matched[SplitKind.FREE_FORM])]
    mc_kind = SplitKind.MULTIPLE_CHOICE
    mc = [(a, b) for (_, a), (_, b) in zip(base_items[mc_kind], other_items[mc_kind])]  # right (1) or wrong (0)
    return {
        "overall": {**_pair(base_scores, other_scores, OVERALL), "ci95": [low, high]},
        SplitKind.FREE_FORM.label: {
            "items": len(ff),
            "mean_abs_diff": sum(abs(a - b) for a, b in ff) / len(ff),
            "exact_agreement": sum(a == b for a, b in ff) / len(ff),
        },
        SplitKind.MULTIPLE_CHOICE.label: {
            "items": len(mc),
            "agreement": sum(a == b for a, b in mc) / len(mc),
            "kappa": cohen_kappa(mc),
        },
        "benchmarks": {key: _pair(base_scores, other_scores, key) for key in base_scores if key != OVERALL},
    }


def _pair(base: dict[str, float], other: dict[str, float], key: str) -> dict[str, float]:
    return {"baseline": base[key], "other": other[key], "delta": other[key] - base[key]}


def _matched(folder: _Folder, kind: SplitKind, base: list[dict[str, Any]], other: list[dict[str, Any]],
             base_path: Path, other_path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Both judges' lines of each item, side by side, in the order of the ids (shorter
    first, then alphabetical: the numeric order of the benchmark's ids), which depends on
    neither file (swapping the judges mirrors the interval). Both files must hold the
    same ids and, for each, the same benchmark."""
    base_by_id = {str(line["id"]): line for line in base}
    by_id = {str(line["id"]): line for line in other}
    if set(by_id) != set(base_by_id):
        only = len(set(by_id) ^ set(base_by_id))
        raise MixEvalError(
            f"{other_path} covers {len(by_id)} ids and {base_path.name} {len(base_by_id)}, {only} of them in only "
            f"one of the two: the judges did not judge the same responses; judge the same response files with both")
    ids = sorted(base_by_id, key=lambda i: (len(i), i))
    first, second = [base_by_id[i] for i in ids], [by_id[i] for i in ids]
    moved = [a["id"] for a, b in zip(first, second) if a["benchmark_name"] != b["benchmark_name"]]
    if moved:
        raise MixEvalError(f"{other_path}: id {moved[0]!r} is of another benchmark than in {base_path.name} "
                           f"({len(moved)} ids): the two judged files were made from different data")
    changed = [a["id"] for a, b in zip(first, second) if a.get("response") != b.get("response")]
    if changed:
        logger.warning("%s: %d of the %d %s items were judged on different responses by the two judges (e.g. id "
                       "%r); their figures mix the judges' and the responses' differences",
                       folder.model, len(changed), len(ids), kind.label, changed[0])
    return first, second


def cohen_kappa(pairs: Sequence[tuple[float, float]]) -> float:
    """Cohen's kappa of two raters' binary (1/0) labels of the same items.

    ``(observed - chance) / (1 - chance)``, chance agreement from each rater's own share
    of 1s. When chance agreement is 1 (both raters gave every item the same one label),
    kappa is 0/0: it is 1.0 here, the observed agreement then being complete too.
    """
    n = len(pairs)
    if not n:
        raise ValueError("kappa of no items")
    both = sum(1 for a, b in pairs if a == b)
    first = sum(1 for a, _ in pairs if a)
    second = sum(1 for _, b in pairs if b)
    chance = first * second + (n - first) * (n - second)  # times n * n, kept in integers
    if chance == n * n:
        return 1.0
    return (both * n - chance) / (n * n - chance)


def kendall_tau_b(xs: Sequence[float], ys: Sequence[float]) -> Optional[float]:
    """Kendall's tau-b of two orderings of the same things (ties counted); None when one
    ordering ties everything (no ordering to correlate)."""
    concordant = discordant = tied_x = tied_y = 0
    pairs = 0
    for i in range(len(xs)):
        for j in range(i + 1, len(xs)):
            pairs += 1
            dx = (xs[i] > xs[j]) - (xs[i] < xs[j])
            dy = (ys[i] > ys[j]) - (ys[i] < ys[j])
            tied_x += dx == 0
            tied_y += dy == 0
            concordant += dx * dy > 0
            discordant += dx * dy < 0
    denominator = math.sqrt((pairs - tied_x) * (pairs - tied_y))
    return (concordant - discordant) / denominator if denominator else None


def format_agreement(agreement: dict[str, Any]) -> str:
    """The printed tables: one row per model, then each model's benchmarks, then the
    rank correlation."""
    baseline, other = agreement["baseline"], agreement["other"]
    ff, mc = SplitKind.FREE_FORM.label, SplitKind.MULTIPLE_CHOICE.label
    header = ["model", baseline, other, "delta", "95% CI of delta", "ff items", "ff mean |diff|", "ff equal",
              "mc items", "mc agree", "mc kappa"]
    rows = [[model, f"{m['overall']['baseline']:.3f}", f"{m['overall']['other']:.3f}",
             f"{m['overall']['delta']:+.3f}", format_interval(*m["overall"]["ci95"]),
             str(m[ff]["items"]), f"{m[ff]['mean_abs_diff']:.3f}", f"{m[ff]['exact_agreement']:.3f}",
             str(m[mc]["items"]), f"{m[mc]['agreement']:.3f}", f"{m[mc]['kappa']:.3f}"]
            for model, m in agreement["models"].items()]
    parts = [f"{other} against {baseline} on {agreement['benchmark']} {agreement['version']} ({SCORE_FILE}'s "
             "scale; delta = other - baseline)", format_grid(header, rows)]
    for model, m in agreement["models"].items():
        parts.append(f"{model}, per benchmark:")
        parts.append(format_grid(["benchmark", baseline, other, "delta"],
                                 [[key, f"{b['baseline']:.3f}", f"{b['other']:.3f}", f"{b['delta']:+.3f}"]
                                  for key, b in m["benchmarks"].items()]))
    ranks = agreement["rank_correlation"]
    if ranks is None:
        parts.append(f"Rank correlation: needs {MIN_RANKED_MODELS} or more models ({len(agreement['models'])} "
                     "compared)")
    elif ranks["kendall_tau"] is None:
        parts.append(f"Rank correlation of the {ranks['models']} models: undefined (one judge ties them all)")
    else:
        parts.append(f"Rank correlation of the {ranks['models']} models (Kendall's tau-b): "
                     f"{ranks['kendall_tau']:.3f}")
    return "\n".join(parts)
