"""A run's bundle: one archive of what a reader needs to read a run and check its scores.

`write_bundle` packs, from a response folder, each selected model folder's response,
status and judged files, ``score.json``, ``score_intervals.json``, ``judge_report.json``,
``run_manifest.json`` and ``derived_from.json``, and the folder's own ``score.json``,
report and answers explorer, under one top folder named as the response folder. Nothing
else goes in (no journal, lock, error log or other dotfile: a list of what goes in, not
of what stays out), and the endpoints in status files are cut to their host, as they may
hold credentials. The archive is deterministic: sorted names, fixed times and owners.

`verify_bundle` unpacks an archive into a temporary folder (refusing any member that is
not a plain file or folder inside it), scores a copy of every model folder again from
its judged files (`mix_eval.scoring.run.score` with ``compute_score_from_judged_file``,
the parser and judge its judged files' names say) and compares each ``score.json`` it
holds, and the run's, with the numbers found; then runs ``check_eval_complete``'s
checks. Nothing is written outside the temporary folder.
"""
from __future__ import annotations

import contextlib
import gzip
import io
import itertools
import json
import logging
import math
import os
import shutil
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Iterator, Optional

from mix_eval.data import BENCHMARKS, splits_for
from mix_eval.errors import MixEvalError
from mix_eval.folders import (
    DERIVED_FROM_FILE,
    INTERVALS_FILE,
    JUDGE_REPORT_FILE,
    MANIFEST_FILE,
    REPORT_HTML_FILE,
    REPORT_MARKDOWN_FILE,
    SAMPLES_FILE,
    SCORE_FILE,
    is_status_file,
    judged_files,
    model_version_dir,
    parse_judged_file_name,
    read_json,
    read_json_object,
    response_path,
    status_path,
)
from mix_eval.manifest import endpoint_host
from mix_eval.scoring.completeness import check_results, expected_sizes
from mix_eval.settings import DataSettings, JudgeSettings, ReportSettings, ScoringSettings
from mix_eval.splits import SplitKind
from mix_eval.system.logs import quieter
from mix_eval.system.files import fsync_dir

logger = logging.getLogger(__name__)

RUN_FILES = (SCORE_FILE, REPORT_HTML_FILE, REPORT_MARKDOWN_FILE, SAMPLES_FILE)
FOLDER_FILES = (SCORE_FILE, INTERVALS_FILE, JUDGE_REPORT_FILE, MANIFEST_FILE, DERIVED_FROM_FILE)
URL_ARGS = ("api_base_url", "model_base_url")  # status file arguments that may carry credentials
FIXED_MTIME = 946684800  # 2000-01-01 UTC: the same bytes for the same files, whenever bundled


# ---------------------------------------------------------------- writing


@dataclass
class Bundle:
    path: Path
    folders: list[str]  # model/benchmark/version of each model folder bundled
    files: int
    size: int


def _safe_child_dirs(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


def model_folders(settings: ReportSettings) -> list[tuple[str, str, str, Path]]:
    """(model, benchmark, version, folder) of every model folder the selection names."""
    root = Path(settings.model_response_dir)
    if not root.is_dir():
        raise MixEvalError(f"--model_response_dir {root} does not exist")
    models = ([root / m for m in settings.models_to_eval] if settings.models_to_eval
              else _safe_child_dirs(root))
    found = []
    for model in models:
        for benchmark in [settings.benchmark] if settings.benchmark else BENCHMARKS:
            versions = ([model / benchmark / settings.version] if settings.version
                        else _safe_child_dirs(model / benchmark))
            found += [(model.name, benchmark, v.name, v) for v in versions if v.is_dir()]
    return found


def folder_files(model: str, benchmark: str, vdir: Path) -> list[Path]:
    """The files of a model folder that a bundle carries."""
    names = [response_path(vdir, model, s.name).name for s in splits_for(benchmark)]
    names += [status_path(vdir, s.name).name for s in splits_for(benchmark)]
    names += list(FOLDER_FILES)
    names += [path.name for path, _ in judged_files(vdir)]
    return [vdir / name for name in names if (vdir / name).is_file()]


def public_status(path: Path) -> bytes:
    """A status file with each endpoint argument cut to its host (no user, key, path or query)."""
    raw = path.read_bytes()
    try:
        status = json.loads(raw)
        args = status["args"]
    except (ValueError, KeyError, TypeError, RecursionError):
        return raw
    if not isinstance(args, dict):
        return raw
    changed = False
    for key in URL_ARGS:
        value = args.get(key)
        if isinstance(value, str) and value:
            host = endpoint_host(value)
            public = f"{value.split('://')[0]}://{host}" if host and "://" in value else host
            if public != value:
                args[key], changed = public, True
    return json.dumps(status, indent=4).encode("utf-8") if changed else raw


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), FIXED_MTIME, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def write_bundle(settings: ReportSettings, out: Path) -> Bundle:
    """Write the bundle of the selected model folders to ``out`` (atomically)."""
    root = Path(settings.model_response_dir)
    folders = [(m, b, v, vdir) for m, b, v, vdir in model_folders(settings) if folder_files(m, b, vdir)]
    if not folders:
        raise MixEvalError(f"no model folder under {root} matches (see --models_to_eval, --benchmark and --version)")
    top = root.resolve().name or "run"
    entries: list[tuple[str, Path]] = [(name, root / name) for name in RUN_FILES if (root / name).is_file()]
    for model, benchmark, version, vdir in folders:
        entries += [(f"{model}/{benchmark}/{version}/{path.name}", path) for path in folder_files(model, benchmark, vdir)]
    out = Path(out)
    if out.is_dir():
        raise MixEvalError(f"--out {out} is a folder; give the archive's file name, like {out / 'run.tar.gz'}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise MixEvalError(f"--out {out}: its folder cannot be made ({e.strerror or e}: {e.filename})") from None
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
                with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                    for name, path in sorted(entries):
                        data = public_status(path) if is_status_file(path.name) else path.read_bytes()
                        _add(tar, f"{top}/{name}", data)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(out.parent)
    return Bundle(out, [f"{m}/{b}/{v}" for m, b, v, _ in folders], len(entries), out.stat().st_size)


# ---------------------------------------------------------------- verifying


class BundleMismatch(MixEvalError):
    """A bundle whose files do not give its scores, or whose run is incomplete."""


@dataclass
class Verification:
    archive: Path
    lines: list[str] = field(default_factory=list)  # what was checked, one line each
    problems: list[str] = field(default_factory=list)


def _member_path(member: tarfile.TarInfo) -> PurePosixPath:
    """A member's path, refused unless it is a plain file or folder inside the archive's folder.

    ``./`` prefixes (``tar -czf run.tar.gz .`` names every member so) are dropped: ``./a``
    is ``a``, and ``.`` itself is the archive's folder, with no parts."""
    name = member.name
    path = PurePosixPath(name)
    if (not name or name.startswith(("/", "\\")) or path.is_absolute() or ".." in path.parts
            or "\\" in name or any(":" in part for part in path.parts[:1]) or "\0" in name):
        raise MixEvalError(f"member {name!r} points outside the archive's folder; refused")
    if not (member.isfile() or member.isdir()):
        raise MixEvalError(f"member {name!r} is not a plain file or folder (a link or a device); refused")
    if member.isfile() and not path.parts:
        raise MixEvalError(f"member {name!r} is a file named as the archive's folder; refused")
    return path


def _checked_members(members: list[tarfile.TarInfo]) -> list[tuple[PurePosixPath, tarfile.TarInfo]]:
    """Every member's path (`_member_path`), refusing a path given twice (``a`` and ``./a``
    included) or a file that another member needs as a folder, before anything is written."""
    paths = [(_member_path(m), m) for m in members]
    files = {}
    folders = set()
    for path, member in paths:
        folders.update(path.parents)
        if member.isfile():
            if path in files:
                raise MixEvalError(f"member {member.name!r} appears twice; refused")
            files[path] = member
        else:
            folders.add(path)
    both = sorted(set(files) & folders)
    if both:
        raise MixEvalError(f"member {files[both[0]].name!r} is a file and a folder; refused")
    return paths


def unpack(archive: Path, into: Path) -> None:
    """Unpack ``archive`` into ``into``, member by member, refusing unsafe members before writing any."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            try:
                paths = _checked_members(members)
            except MixEvalError as e:
                raise MixEvalError(f"{archive}: {e}") from None
            for path, member in paths:
                target = into.joinpath(*path.parts)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                with open(target, "xb") as f:
                    shutil.copyfileobj(source, f)
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise MixEvalError(f"{archive}: not a bundle: it cannot be read as a .tar.gz archive "
                           f"({type(e).__name__})") from None


def _holds_model_folders(folder: Path) -> bool:
    """Whether ``folder`` holds ``<model>/<benchmark>/`` folders (a run's folder does)."""
    return any((child / benchmark).is_dir() for child in _safe_child_dirs(folder) for benchmark in BENCHMARKS)


def _bundle_root(unpacked: Path) -> Path:
    """The run's folder: the archive's one top folder (as `write_bundle` packs it), or the
    archive's own top when the run's files lie there (a bundle repacked from inside it)."""
    entries = [p for p in unpacked.iterdir()]
    if len(entries) == 1 and entries[0].is_dir() and not _holds_model_folders(unpacked):
        return entries[0]
    return unpacked


def _scores(path: Path) -> dict[str, Any]:
    try:
        value = read_json(path)
    except (OSError, ValueError) as e:
        raise MixEvalError(f"{path.name} is not JSON: {e}") from None
    if not isinstance(value, dict):
        raise MixEvalError(f"{path.name} is not a JSON object")
    return value


def _differences(bundled: dict[str, Any], found: dict[str, float]) -> list[tuple[str, Any, Any]]:
    """(key, bundled value, rescored value) of every score that differs, in the bundled file's order."""
    out = []
    for key in list(bundled) + [k for k in found if k not in bundled]:
        a, b = bundled.get(key), found.get(key)
        same = (isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool)
                and math.isclose(a, b, rel_tol=0, abs_tol=1e-9))
        if not same:
            out.append((key, a, b))
    return out


def _shown(value: Any) -> str:
    """A score as a reader wants it: ``0.42``, not ``0.42000000000000004`` (a float's noise)."""
    if value is None:
        return "absent"
    return f"{value:.10g}" if isinstance(value, float) else repr(value)


def _judged_choices(vdir: Path) -> list[dict[SplitKind, str]]:
    """The judged files (by kind) that may have made a folder's ``score.json``: every pairing
    of the folder's judged files, those its manifest names first."""
    candidates: dict[SplitKind, list[str]] = {kind: [] for kind in SplitKind}
    for path, name in judged_files(vdir):
        candidates[name.kind].append(path.name)
    judges = read_json_object(vdir / MANIFEST_FILE).get("judges") or {}
    for kind in SplitKind:
        entry = judges.get(kind.label) if isinstance(judges, dict) else None
        named = entry.get("judged_file") if isinstance(entry, dict) else None
        if named in candidates[kind]:
            candidates[kind].sort(key=lambda name: name != named)
    if not all(candidates.values()):
        return []
    return [dict(zip(SplitKind, pair)) for pair in itertools.product(*(candidates[k] for k in SplitKind))]


def _judge_settings(files: dict[SplitKind, str]) -> JudgeSettings:
    values: dict[str, Any] = {"compute_score_from_judged_file": True}
    for kind, name in files.items():
        parsed = parse_judged_file_name(name)
        assert parsed is not None, name  # one of judged_files'
        values[kind.parser_flag] = parsed.parser
        if parsed.judge is not None:
            values[kind.judge_flag] = parsed.judge
    return JudgeSettings(**values)


def _rescore(vdir: Path, model: str, benchmark: str, version: str, files: dict[SplitKind, str],
             work: Path) -> dict[str, float]:
    """``score.json``'s numbers from a copy of the folder's files, scored under ``work``."""
    from mix_eval.scoring.run import score

    copy = model_version_dir(work, model, benchmark, version)
    shutil.copytree(vdir, copy)
    settings = ScoringSettings(DataSettings(benchmark, version), _judge_settings(files),
                               model_response_dir=str(work), models_to_eval=(model,))
    with quieter("mix_eval"):
        return score(settings, progress=False, echo=lambda _: None)[model]


def _check_folder(result: Verification, root: Path, work: Path, model: str, benchmark: str, version: str,
                  rescored: dict[tuple[str, str, str], dict[str, float]]) -> None:
    vdir = model_version_dir(root, model, benchmark, version)
    where = f"{model}/{benchmark}/{version}/{SCORE_FILE}"
    try:
        bundled = _scores(vdir / SCORE_FILE)
    except MixEvalError as e:
        result.problems.append(f"{where}: {e}")
        return
    choices = _judged_choices(vdir)
    if not choices:
        result.problems.append(f"{where}: the folder lacks a judged file of each split, so its scores cannot be "
                               "checked")
        return
    first_problem = None
    for n, files in enumerate(choices):
        attempt = work / f"{model}.{benchmark}.{version}.{n}"
        try:
            found = _rescore(vdir, model, benchmark, version, files, attempt)
        except MixEvalError as e:
            message = str(e).replace(f"{attempt}{os.sep}", "")
            first_problem = first_problem or f"{where}: its judged files cannot be scored: {message}"
            continue
        diffs = _differences(bundled, found)
        names = " and ".join(files[kind] for kind in SplitKind)
        if not diffs:
            rescored[(model, benchmark, version)] = found
            result.lines.append(f"{where}: reproduced from {names}")
            return
        key, was, now = diffs[0]
        more = f" (and {len(diffs) - 1} other score(s) differ)" if len(diffs) > 1 else ""
        first_problem = first_problem or (f"{where}: {key} is {_shown(was)} in the bundle, but its judged files "
                                          f"({names}) give {_shown(now)}{more}")
    result.problems.append(first_problem)


def _check_verdicts(result: Verification, root: Path, model: str, benchmark: str, version: str) -> None:
    """Each judged line's verdict is the one its judge's reply holds (a random verdict, for a
    reply that holds none, aside): an edit that leaves the scores as they were shows here."""
    from mix_eval.judges.protocol import verdict

    vdir = model_version_dir(root, model, benchmark, version)
    for path, name in judged_files(vdir):
        if name.parser != "model":
            continue
        kind = name.kind
        field_name = "judge_option" if kind.is_multichoice else "judge_score"
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                line = json.loads(text)
                said, given = verdict(kind, line.get("judge_response")), line.get(field_name)
            except (ValueError, AttributeError, TypeError, RecursionError):
                continue  # not a judged line: rescoring names it
            if said is not None and said != given:
                result.problems.append(
                    f"{model}/{benchmark}/{version}/{path.name}, line {number} (id {line.get('id')!r}): "
                    f"{field_name} is {given!r}, but its judge_response says {said!r}")
                break


def _check_run_scores(result: Verification, root: Path,
                      rescored: dict[tuple[str, str, str], dict[str, float]]) -> None:
    """The run's ``score.json`` (model -> scores, from its last scoring run of one benchmark
    and version) against the rescored folders of some benchmark and version."""
    path = root / SCORE_FILE
    if not path.is_file():
        return
    try:
        run = _scores(path)
    except MixEvalError as e:
        result.problems.append(f"{SCORE_FILE} (the run's): {e}")
        return
    groups = sorted({(b, v) for _, b, v in rescored})
    best: Optional[tuple[int, str]] = None
    for benchmark, version in groups:
        checkable = [m for m in run if (m, benchmark, version) in rescored]
        if not checkable:
            continue
        wrong = []
        for model in checkable:
            entry = run[model] if isinstance(run[model], dict) else {}
            diffs = _differences(entry, rescored[(model, benchmark, version)])
            if diffs:
                key, was, now = diffs[0]
                wrong.append(f"{SCORE_FILE} (the run's): {model}'s {key} is {_shown(was)}, but the judged files of "
                             f"{model}/{benchmark}/{version} give {_shown(now)}")
        if not wrong:
            unchecked = len(run) - len(checkable)
            note = f"; {unchecked} model(s) it names are not in the bundle" if unchecked else ""
            result.lines.append(f"{SCORE_FILE} (the run's): reproduced ({benchmark} {version}, "
                                f"{len(checkable)} model(s){note})")
            return
        if best is None or len(wrong) < best[0]:
            best = (len(wrong), wrong[0])
    if best is not None:
        result.problems.append(best[1])
    else:
        result.lines.append(f"{SCORE_FILE} (the run's): names no model folder of the bundle; not checked")


def _check_complete(result: Verification, root: Path, folders: list[tuple[str, str, str]]) -> None:
    for model, benchmark, version in folders:
        sizes = expected_sizes(benchmark, version, None, {})
        problems = check_results(str(root), benchmark, version, [[model]], sizes)
        for problem in problems:  # one line per split, the same words for both splits of a folder
            message = problem.message().replace(f"{root}{os.sep}", "")
            if message not in result.problems:
                result.problems.append(message)
    if folders and not result.problems:
        result.lines.append(f"check_eval_complete: {len(folders)} folder(s) complete")


def verify_bundle(archive: Path) -> Verification:
    """Check a bundle; its problems are in the result (`check` raises on the first)."""
    archive = Path(archive)
    if not archive.is_file():
        raise MixEvalError(f"{archive}: no such file")
    result = Verification(archive)
    with tempfile.TemporaryDirectory(prefix="mix_eval_verify_") as tmp:
        unpacked, work = Path(tmp) / "bundle", Path(tmp) / "rescored"
        unpacked.mkdir()
        unpack(archive, unpacked)
        root = _bundle_root(unpacked)
        folders = [(m.name, b, v.name) for m in _safe_child_dirs(root) for b in BENCHMARKS
                   for v in _safe_child_dirs(m / b)]
        if not folders:
            raise MixEvalError(f"{archive}: holds no model folder (<model>/<benchmark>/<version>/)")
        rescored: dict[tuple[str, str, str], dict[str, float]] = {}
        for model, benchmark, version in folders:
            if (model_version_dir(root, model, benchmark, version) / SCORE_FILE).is_file():
                _check_folder(result, root, work, model, benchmark, version, rescored)
        _check_run_scores(result, root, rescored)
        for folder in folders:
            _check_verdicts(result, root, *folder)
        _check_complete(result, root, folders)
    return result


def check(verification: Verification) -> Verification:
    """The verification, or `BundleMismatch` naming its first problem (and how many more)."""
    if verification.problems:
        more = len(verification.problems) - 1
        raise BundleMismatch(f"{verification.archive}: {verification.problems[0]}"
                             + (f" (and {more} more problem(s))" if more else ""))
    return verification
