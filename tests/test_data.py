"""The benchmark data: versions, item shape, malformed files, the Hub fallback.

Everything goes through the public functions of `mix_eval.data` and, where the user
sees it, through `python -m mix_eval.evaluate`. Broken data is built in tmp_path in the
reference layout (``mixeval-<version>/mixeval[-hard]/<problem type>.json``) from the real
files the package ships. The Hub is never reached: every `load_split` that could fall back to
it gets a `fetch` (a fake download, or one that fails as offline), and the command line
runs with HF_HUB_OFFLINE=1.
"""
from __future__ import annotations

import copy
import json
import random
import shutil
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
from conftest import run_module

import mix_eval.data as data_mod
from mix_eval.data import (
    KNOWN_VERSIONS,
    SPLITS,
    ensure_version,
    fetch_from_hub,
    fingerprint,
    identify_version,
    load_split,
    read_split_file,
    resolve_data_path,
    split_file,
    splits_for,
)
from mix_eval.errors import DataError

ALL_SPLITS = [s for pair in SPLITS.values() for s in pair]
SPLIT = {s.name: s for s in ALL_SPLITS}
FF, MC = SPLIT["close_freeform"], SPLIT["close_multichoice"]
FF_HARD, MC_HARD = SPLIT["close_freeform_hard"], SPLIT["close_multichoice_hard"]

EXPECTED_SIZES = {
    "2024-06-01": {"close_freeform": 2000, "close_multichoice": 2000,
                   "close_freeform_hard": 500, "close_multichoice_hard": 500},
    "2024-08-11": {"close_freeform": 2000, "close_multichoice": 1995,
                   "close_freeform_hard": 500, "close_multichoice_hard": 500},
}
ITEM_FIELDS = {"problem_type", "context", "prompt", "target", "benchmark_name", "options"}


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """Belt and braces: nothing in this file may reach the Hub."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


def no_hub(split):
    raise ConnectionError("no network in this test")


def raw_file(data_path: Path, version: str, split) -> dict[str, Any]:
    with open(split_file(data_path, version, split), encoding="utf-8") as f:
        return json.load(f)


def one_line_error(excinfo) -> str:
    """The DataError's message, checked to be a single line."""
    message = str(excinfo.value)
    assert "\n" not in message, f"the message should be one line:\n{message}"
    return message


# ---------------------------------------------------------------- the real data


@pytest.mark.parametrize("version", KNOWN_VERSIONS)
def test_both_versions_load_with_the_published_sizes(data_path, version):
    sizes = {s.name: len(load_split(data_path, version, s, fetch=no_hub)) for s in ALL_SPLITS}
    assert sizes == EXPECTED_SIZES[version]


@pytest.mark.parametrize("split_name", list(SPLIT))
def test_items_keep_file_order_and_gain_formated_input_then_id(data_path, split_name):
    split = SPLIT[split_name]
    raw = raw_file(data_path, "2024-08-11", split)
    items = load_split(data_path, "2024-08-11", split, fetch=no_hub)
    assert [it["id"] for it in items] == list(raw)  # string ids, in the file's order
    assert all(type(it["id"]) is str for it in items)
    for item in items:
        fields = raw[item["id"]]
        # the item's own fields in its own order, then formated_input, then id
        assert list(item) == list(fields) + ["formated_input", "id"]
        assert {k: item[k] for k in fields} == fields
        assert set(fields) <= ITEM_FIELDS
        assert item["problem_type"] == split.problem_type
        assert isinstance(item["formated_input"], str) and item["prompt"] in item["formated_input"]


def test_the_2024_08_11_multiple_choice_ids_are_not_renumbered(data_path):
    # 1995 items: whatever ids the file has are kept, not replaced by positions
    raw = raw_file(data_path, "2024-08-11", MC)
    items = load_split(data_path, "2024-08-11", MC, fetch=no_hub)
    assert [it["id"] for it in items] == list(raw)
    assert len(items) == 1995


def test_limit_keeps_the_first_n_items(data_path):
    full = load_split(data_path, "2024-06-01", MC_HARD, fetch=no_hub)
    assert load_split(data_path, "2024-06-01", MC_HARD, limit=7, fetch=no_hub) == full[:7]
    assert load_split(data_path, "2024-06-01", MC_HARD, limit=1, fetch=no_hub) == full[:1]
    assert load_split(data_path, "2024-06-01", MC_HARD, limit=10_000, fetch=no_hub) == full


def test_data_path_may_be_a_string_or_a_path(data_path):
    a = load_split(str(data_path), "2024-06-01", FF_HARD, limit=3, fetch=no_hub)
    b = load_split(data_path, "2024-06-01", FF_HARD, limit=3, fetch=no_hub)
    assert a == b


def test_read_split_file_reads_one_file(data_path):
    path = split_file(data_path, "2024-06-01", FF_HARD)
    assert path == data_path / "mixeval-2024-06-01" / "mixeval-hard" / "free-form.json"
    items = read_split_file(path, FF_HARD)
    assert items == load_split(data_path, "2024-06-01", FF_HARD, fetch=no_hub)


def test_splits_for_names_the_splits_in_generation_order():
    assert [s.name for s in splits_for("mixeval")] == ["close_freeform", "close_multichoice"]
    assert [s.name for s in splits_for("mixeval_hard")] == ["close_freeform_hard", "close_multichoice_hard"]
    assert [(s.folder, s.file_name) for s in splits_for("mixeval_hard")] == [
        ("mixeval-hard", "free-form.json"), ("mixeval-hard", "multiple-choice.json")]
    assert [(s.folder, s.file_name) for s in splits_for("mixeval")] == [
        ("mixeval", "free-form.json"), ("mixeval", "multiple-choice.json")]
    with pytest.raises(DataError, match="--benchmark"):
        splits_for("mixeval-hard")


def test_ensure_version_is_a_no_op_when_the_data_is_there(data_path):
    for version in KNOWN_VERSIONS:
        assert ensure_version(data_path, version, fetch=no_hub) == data_path / f"mixeval-{version}"


# ---------------------------------------------------------------- malformed files


def write_split(root: Path, version: str, split, content: Any) -> Path:
    """Write a data file at its place in the reference layout under root."""
    out = split_file(root, version, split)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(content if isinstance(content, str) else json.dumps(content, indent=4),
                   encoding="utf-8")
    return out


def middle_id(raw: dict) -> str:
    ids = list(raw)
    return ids[len(ids) // 2]


def _drop(field: str) -> Callable[[dict], None]:
    return lambda item: item.pop(field)


def _set(field: str, value: Any) -> Callable[[dict], None]:
    return lambda item: item.__setitem__(field, value)


ITEM_BREAKAGES = [
    # (split, how one item is broken, what the message says besides the file and id)
    pytest.param(FF_HARD, _drop("target"), "lacks the field(s) target", id="ff-missing-target"),
    pytest.param(FF_HARD, _drop("prompt"), "lacks the field(s) prompt", id="ff-missing-prompt"),
    pytest.param(MC_HARD, _drop("options"), "lacks the field(s) options", id="mc-missing-options"),
    pytest.param(FF_HARD, _set("target", "Paris"), "target that is not a non-empty list", id="ff-target-not-list"),
    pytest.param(FF_HARD, _set("target", []), "target that is not a non-empty list", id="ff-target-empty"),
    pytest.param(MC_HARD, _set("target", 1), "target that is not a non-empty list", id="mc-target-not-list"),
    pytest.param(MC_HARD, lambda it: it.__setitem__("target", [len(it["options"])]),
                 "outside its", id="mc-target-past-options"),
    pytest.param(MC_HARD, _set("target", [-1]), "outside its", id="mc-target-negative"),
    pytest.param(MC_HARD, _set("target", ["B"]), "one option index", id="mc-target-letter"),
    pytest.param(FF_HARD, _set("benchmark_name", "QuAc"), "QuAc", id="ff-quac"),
    pytest.param(FF_HARD, _set("problem_type", "multiple-choice"), "problem_type 'multiple-choice'",
                 id="ff-wrong-problem-type"),
    pytest.param(MC_HARD, _set("problem_type", "free-form"), "problem_type 'free-form'",
                 id="mc-wrong-problem-type"),
]


@pytest.mark.parametrize("split, breakage, says", ITEM_BREAKAGES)
def test_a_malformed_item_is_one_data_error_naming_file_and_id(data_path, tmp_path, split, breakage, says):
    raw = raw_file(data_path, "2024-06-01", split)
    bad_id = middle_id(raw)
    breakage(raw[bad_id])
    path = write_split(tmp_path, "2024-06-01", split, raw)

    with pytest.raises(DataError) as excinfo:
        load_split(tmp_path, "2024-06-01", split, fetch=no_hub)
    message = one_line_error(excinfo)
    assert str(path) in message
    assert f"item id {bad_id!r}" in message
    assert says in message
    assert "1 malformed item" in message
    # only the broken item is reported
    others = [i for i in raw if i != bad_id]
    assert f"item id {others[0]!r}" not in message and f"item id {others[-1]!r}" not in message

    with pytest.raises(DataError) as direct:
        read_split_file(path, split)
    assert str(direct.value) == message


def test_many_malformed_items_are_counted_and_the_first_ten_named(data_path, tmp_path):
    raw = raw_file(data_path, "2024-06-01", FF_HARD)
    ids = list(raw)[:15]
    for i in ids:
        del raw[i]["benchmark_name"]
    path = write_split(tmp_path, "2024-06-01", FF_HARD, raw)
    with pytest.raises(DataError) as excinfo:
        read_split_file(path, FF_HARD)
    message = one_line_error(excinfo)
    assert str(path) in message and "15 malformed item(s)" in message
    assert all(f"item id {i!r}" in message for i in ids[:10])
    assert f"item id {ids[10]!r}" not in message and "and 5 more" in message


def test_a_truncated_file_names_the_file_and_line(data_path, tmp_path):
    text = split_file(data_path, "2024-06-01", FF_HARD).read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    kept = 1234
    path = write_split(tmp_path, "2024-06-01", FF_HARD, "".join(lines[:kept]))
    with pytest.raises(DataError) as excinfo:
        load_split(tmp_path, "2024-06-01", FF_HARD, fetch=no_hub)
    message = one_line_error(excinfo)
    assert str(path) in message
    assert f"line {kept + 1}," in message  # the JSON ends there
    assert "truncated" in message and "--data_path" in message


def test_a_truncated_string_names_the_line_it_starts_on(data_path, tmp_path):
    text = split_file(data_path, "2024-06-01", MC_HARD).read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    # cut inside the prompt of some item: the unterminated string starts on that line
    n = next(i for i in range(300, len(lines)) if lines[i].lstrip().startswith('"prompt": "'))
    cut = "".join(lines[:n]) + lines[n][: lines[n].index('"prompt": "') + 15]
    path = write_split(tmp_path, "2024-06-01", MC_HARD, cut)
    with pytest.raises(DataError) as excinfo:
        read_split_file(path, MC_HARD)
    message = one_line_error(excinfo)
    assert str(path) in message and f"line {n + 1}," in message


@pytest.mark.parametrize("content, says", [
    pytest.param("LIST", "expected a JSON object keyed by item id, found a list", id="json-list"),
    pytest.param({}, "holds no items", id="empty-object"),
    pytest.param("", "not valid JSON", id="empty-file"),
    pytest.param("null", "found a NoneType", id="null"),
])
def test_a_file_that_is_not_an_object_of_items(data_path, tmp_path, content, says):
    if content == "LIST":
        content = list(raw_file(data_path, "2024-06-01", MC_HARD).values())
    path = write_split(tmp_path, "2024-06-01", MC_HARD, content)
    with pytest.raises(DataError) as excinfo:
        load_split(tmp_path, "2024-06-01", MC_HARD, fetch=no_hub)
    message = one_line_error(excinfo)
    assert str(path) in message and says in message


def test_an_item_that_is_not_an_object(data_path, tmp_path):
    raw = raw_file(data_path, "2024-06-01", FF_HARD)
    raw["17"] = ["a", "list"]
    path = write_split(tmp_path, "2024-06-01", FF_HARD, raw)
    with pytest.raises(DataError) as excinfo:
        read_split_file(path, FF_HARD)
    assert "item id '17' is a list, not an object" in one_line_error(excinfo)


def test_a_file_that_is_not_utf8(data_path, tmp_path):
    path = split_file(tmp_path, "2024-06-01", FF_HARD)
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"0": {"prompt": "caf\xe9"}}')
    with pytest.raises(DataError) as excinfo:
        read_split_file(path, FF_HARD)
    assert str(path) in str(excinfo.value) and "UTF-8" in str(excinfo.value)


# ---------------------------------------------------------------- no local copy, no Hub


def test_a_wrong_data_path_offline_names_the_path_and_the_flag(tmp_path):
    nowhere = tmp_path / "nowhere"
    with pytest.raises(DataError) as excinfo:
        load_split(nowhere, "2024-06-01", FF_HARD, fetch=no_hub)
    message = one_line_error(excinfo)
    assert str(nowhere / "mixeval-2024-06-01") in message
    assert "--data_path" in message
    assert "2024-06-01" in message
    assert "ConnectionError: no network in this test" in message
    assert not nowhere.exists() or not any(nowhere.iterdir())  # nothing half-written


def test_a_partial_version_folder_names_the_missing_file(data_path, tmp_path):
    shutil.copytree(data_path / "mixeval-2024-06-01" / "mixeval-hard", tmp_path / "mixeval-2024-06-01" / "mixeval-hard")
    # the hard splits are all there: they load without the Hub
    assert len(load_split(tmp_path, "2024-06-01", MC_HARD, fetch=no_hub)) == 500
    # the plain ones are not
    with pytest.raises(DataError) as excinfo:
        load_split(tmp_path, "2024-06-01", FF, fetch=no_hub)
    message = one_line_error(excinfo)
    assert str(split_file(tmp_path, "2024-06-01", FF)) in message and "--data_path" in message


def test_a_fetch_error_that_is_already_clear_is_passed_through(tmp_path):
    def needs_datasets(split):
        raise DataError("Loading MixEval from the Hugging Face Hub needs the `datasets` package")

    with pytest.raises(DataError, match="needs the `datasets` package"):
        load_split(tmp_path, "2024-06-01", FF, fetch=needs_datasets)


def test_fetch_from_hub_without_datasets_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # `import datasets` fails
    with pytest.raises(DataError, match=r"pip install .*--data_path"):
        fetch_from_hub(FF_HARD)


def test_a_multi_line_fetch_error_still_gives_one_line(tmp_path):
    def noisy(split):
        raise OSError("first line\n\n  second line\n")

    with pytest.raises(DataError) as excinfo:
        load_split(tmp_path, "2024-06-01", FF, fetch=noisy)
    assert "OSError: first line second line" in one_line_error(excinfo)


# ---------------------------------------------------------------- the Hub fallback


def hub_copy(data_path: Path, version: str) -> dict[str, list[dict[str, Any]]]:
    """What `fetch_from_hub` gives for each split: the items, each with its id as `_id`."""
    return {
        s.name: [{**item, "_id": item_id} for item_id, item in raw_file(data_path, version, s).items()]
        for s in ALL_SPLITS
    }


def fake_fetch(copy_by_split: dict[str, list[dict]], calls: list[str]):
    def fetch(split):
        calls.append(split.name)
        return copy.deepcopy(copy_by_split[split.name])
    return fetch


@pytest.fixture(scope="module")
def hub_0601(data_path):
    return hub_copy(data_path, "2024-06-01")


@pytest.fixture(scope="module")
def hub_0811(data_path):
    return hub_copy(data_path, "2024-08-11")


def test_hub_fallback_stores_the_version_in_the_reference_layout(data_path, tmp_path, hub_0601):
    calls: list[str] = []
    items = load_split(tmp_path, "2024-06-01", FF_HARD, fetch=fake_fetch(hub_0601, calls))

    assert items == load_split(data_path, "2024-06-01", FF_HARD, fetch=no_hub)
    assert sorted(calls) == sorted(SPLIT)  # one download per split
    for s in ALL_SPLITS:  # all four stored, exactly as the reference's files
        stored = split_file(tmp_path, "2024-06-01", s)
        assert stored.is_file(), stored
        stored_raw = json.loads(stored.read_text(encoding="utf-8"))
        original = raw_file(data_path, "2024-06-01", s)
        assert list(stored_raw) == list(original)
        assert stored_raw == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mixeval-2024-06-01"]

    # from now on the local copy is used: no second download
    calls.clear()
    assert len(load_split(tmp_path, "2024-06-01", MC, fetch=fake_fetch(hub_0601, calls))) == 2000
    assert calls == []


def test_hub_fallback_from_a_missing_folder_creates_it(data_path, tmp_path, hub_0811):
    root = tmp_path / "fresh" / "data"
    items = load_split(root, "2024-08-11", MC, fetch=fake_fetch(hub_0811, []))
    assert len(items) == 1995
    assert items == load_split(data_path, "2024-08-11", MC, fetch=no_hub)


def test_hub_holding_the_other_version_names_it_and_the_flag(data_path, tmp_path, hub_0811):
    with pytest.raises(DataError) as excinfo:
        load_split(tmp_path, "2024-06-01", FF_HARD, fetch=fake_fetch(hub_0811, []))
    message = one_line_error(excinfo)
    assert "holds MixEval version 2024-08-11, not 2024-06-01" in message
    assert "--version 2024-08-11" in message
    assert str(tmp_path / "mixeval-2024-08-11") in message
    # stored under the version it is, not the one asked for
    assert not (tmp_path / "mixeval-2024-06-01").exists()
    sizes = {s.name: len(load_split(tmp_path, "2024-08-11", s, fetch=no_hub)) for s in ALL_SPLITS}
    assert sizes == EXPECTED_SIZES["2024-08-11"]


def test_hub_matching_no_known_version_is_stored_as_hub(data_path, tmp_path, hub_0601):
    changed = copy.deepcopy(hub_0601)
    changed["close_freeform_hard"][3]["prompt"] += " (edited)"
    with pytest.raises(DataError) as excinfo:
        load_split(tmp_path, "2024-06-01", FF_HARD, fetch=fake_fetch(changed, []))
    message = one_line_error(excinfo)
    assert "matches no known version" in message
    assert all(v in message for v in KNOWN_VERSIONS)
    assert str(tmp_path / "mixeval-hub") in message and "--version hub" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mixeval-hub"]

    items = load_split(tmp_path, "hub", FF_HARD, fetch=no_hub)
    assert items[3]["prompt"].endswith(" (edited)") and len(items) == 500


def test_asking_for_version_hub_fetches_and_loads_it(tmp_path, hub_0601):
    changed = copy.deepcopy(hub_0601)
    changed["close_multichoice"][0]["prompt"] += " (edited)"
    items = load_split(tmp_path, "hub", MC, fetch=fake_fetch(changed, []))
    assert len(items) == 2000 and items[0]["prompt"].endswith(" (edited)")


# ---------------------------------------------------------------- fingerprints


def test_fingerprints_ignore_order_ids_and_key_order(hub_0601):
    items = hub_0601["close_multichoice_hard"]
    base = fingerprint(items)
    shuffled = copy.deepcopy(items)
    random.Random(0).shuffle(shuffled)
    for n, item in enumerate(shuffled):
        item["_id"] = f"renamed-{n}"
    reordered = [dict(reversed(list(item.items()))) for item in shuffled]
    assert fingerprint(shuffled) == base
    assert fingerprint(reordered) == base

    changed = copy.deepcopy(items)
    changed[0]["target"] = [(changed[0]["target"][0] + 1) % len(changed[0]["options"])]
    assert fingerprint(changed) != base
    assert fingerprint(items[:-1]) != base


@pytest.mark.parametrize("version", KNOWN_VERSIONS)
def test_identify_version_knows_both_published_versions(data_path, version):
    loaded = {s: load_split(data_path, version, s, fetch=no_hub) for s in ALL_SPLITS}
    assert identify_version(loaded) == version
    # the items as the Hub gives them, in another order and with other ids
    rng = random.Random(1)
    hub = {}
    for s in ALL_SPLITS:
        items = [{**it, "_id": str(n)} for n, it in enumerate(raw_file(data_path, version, s).values())]
        rng.shuffle(items)
        hub[s] = items
    assert identify_version(hub) == version


def test_identify_version_of_mixed_or_partial_data_is_none(hub_0601, hub_0811):
    mixed = {s: hub_0601[s.name] for s in ALL_SPLITS}
    mixed[MC] = hub_0811["close_multichoice"]
    assert identify_version(mixed) is None
    assert identify_version({s: hub_0601[s.name] for s in ALL_SPLITS[:3]}) is None


# ---------------------------------------------------------------- the default data path


def test_default_data_path_falls_back_to_the_package_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no mix_eval/data here
    package_data = Path(data_mod.__file__).resolve().parent / "data"
    assert resolve_data_path(None) == package_data
    assert resolve_data_path("mix_eval/data/") == package_data
    assert resolve_data_path("mix_eval/data") == package_data


def test_default_data_path_is_used_when_present_in_the_working_directory(data_path, tmp_path, monkeypatch):
    local = tmp_path / "mix_eval" / "data"
    shutil.copytree(data_path / "mixeval-2024-06-01" / "mixeval-hard",
                    local / "mixeval-2024-06-01" / "mixeval-hard")
    monkeypatch.chdir(tmp_path)
    assert resolve_data_path(None).resolve() == local
    assert resolve_data_path("mix_eval/data/").resolve() == local
    assert len(load_split(None, "2024-06-01", FF_HARD, fetch=no_hub)) == 500
    assert len(load_split("mix_eval/data/", "2024-06-01", MC_HARD, fetch=no_hub)) == 500


def test_other_data_paths_are_taken_as_given(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_data_path("~/mixeval") == tmp_path / "mixeval"
    assert resolve_data_path("some/where") == Path("some/where")


# ---------------------------------------------------------------- the command line


def run_evaluate(tmp_path: Path, data_path: Path, *extra: str, version: str = "2024-06-01",
                 benchmark: str = "mixeval_hard"):
    model_dir = tmp_path / "no-model"  # a bogus checkpoint: loading it would fail
    model_dir.mkdir(exist_ok=True)
    return run_module(
        "mix_eval.evaluate",
        "--model_name", "local_chat", "--model_path", str(model_dir),
        "--benchmark", benchmark, "--version", version, "--batch_size", "2",
        "--inference_only", "--output_dir", str(tmp_path / "out"),
        "--data_path", str(data_path), *extra,
        timeout=120,
        # offline, and with an empty cache, so no copy of the Hub dataset can turn up
        env={"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf-home")},
    )


def assert_clean_data_error(proc, *names: str) -> str:
    """Exit status 2, no traceback, one error line naming everything in `names`, no model load."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, proc.stderr
    line = errors[0]
    assert line.startswith("mix_eval: Error: "), proc.stderr
    for name in names:
        assert name in line, (name, proc.stderr)
    assert "loading local_chat" not in proc.stderr, f"the model was loaded first:\n{proc.stderr}"
    assert "checkpoint" not in proc.stderr, proc.stderr
    return line


def test_cli_wrong_data_path_offline(tmp_path):
    nowhere = tmp_path / "nowhere"
    proc = run_evaluate(tmp_path, nowhere)
    assert_clean_data_error(proc, str(nowhere / "mixeval-2024-06-01"), "--data_path", "2024-06-01")


def test_cli_truncated_free_form_file(data_path, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(data_path / "mixeval-2024-06-01" / "mixeval-hard", root / "mixeval-2024-06-01" / "mixeval-hard")
    path = split_file(root, "2024-06-01", FF_HARD)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:100]), encoding="utf-8")
    proc = run_evaluate(tmp_path, root)
    assert_clean_data_error(proc, str(path), "line 101,", "--data_path")


def test_cli_malformed_multiple_choice_item_is_reported_before_the_model_loads(data_path, tmp_path):
    # the multiple-choice split runs second: its data must still be checked up front
    root = tmp_path / "data"
    shutil.copytree(data_path / "mixeval-2024-06-01" / "mixeval-hard", root / "mixeval-2024-06-01" / "mixeval-hard")
    path = split_file(root, "2024-06-01", MC_HARD)
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["42"]["target"] = [len(raw["42"]["options"]) + 3]
    path.write_text(json.dumps(raw, indent=4), encoding="utf-8")
    proc = run_evaluate(tmp_path, root, "--limit", "2")
    assert_clean_data_error(proc, str(path), "item id '42'", "outside its")


# ---------------------------------------------------------------- the Hub's rows


HUB_CONFIGS = {("MixEval", "free_form"): "close_freeform", ("MixEval", "multiple_choice"): "close_multichoice",
               ("MixEval_Hard", "free_form"): "close_freeform_hard",
               ("MixEval_Hard", "multiple_choice"): "close_multichoice_hard"}


def hub_rows(data_path: Path, version: str, split, mc_target_as: type) -> list[dict[str, Any]]:
    """A split as rows of the Hub dataset MixEval/MixEval: one schema for every split (id,
    problem_type, context, prompt, options, target, benchmark_name), so free-form rows have
    an empty options list; targets are strings, or ints for multiple choice if asked."""
    rows = []
    for item_id, item in raw_file(data_path, version, split).items():
        rows.append({
            "id": item_id,
            "problem_type": item["problem_type"],
            "context": item["context"],
            "prompt": item["prompt"],
            "options": item.get("options", []),
            "target": [mc_target_as(t) if split.is_multichoice else t for t in item["target"]],
            "benchmark_name": item["benchmark_name"],
        })
    return rows


@pytest.mark.parametrize("version, mc_target_as", [("2024-06-01", str), ("2024-08-11", int)],
                         ids=["2024-06-01-mc-target-str", "2024-08-11-mc-target-int"])
def test_hub_rows_become_the_shipped_items(data_path, tmp_path, monkeypatch, version, mc_target_as):
    """The real `fetch_from_hub`, fed `datasets.Dataset`s shaped as the Hub's MixEval/MixEval
    rows made from the shipped files: the version is recognised and the stored files are the
    shipped ones exactly (ids, order, int targets for multiple choice, string targets and no
    options for free-form). 2024-08-11's multiple-choice ids are not their row numbers."""
    import datasets  # the `hub` extra, installed by setup.sh

    features = datasets.Features({
        "id": datasets.Value("string"),
        "problem_type": datasets.Value("string"),
        "context": datasets.Value("string"),
        "prompt": datasets.Value("string"),
        "options": datasets.Sequence(datasets.Value("string")),
        "target": datasets.Sequence(datasets.Value("string")),
        "benchmark_name": datasets.Value("string"),
    })
    mc_features = datasets.Features({**features, "target": datasets.Sequence(
        datasets.Value("string" if mc_target_as is str else "int64"))})
    tables = {}
    for (config, hub_split), name in HUB_CONFIGS.items():
        split = SPLIT[name]
        tables[config, hub_split] = datasets.Dataset.from_list(
            hub_rows(data_path, version, split, mc_target_as),
            features=mc_features if split.is_multichoice else features)
    calls = []

    def load_dataset(path, name=None, split=None, **kwargs):
        calls.append((path, name, split))
        return tables[name, split]

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    items = load_split(tmp_path, version, MC)  # no `fetch`: the real Hub path

    assert sorted(calls) == sorted(("MixEval/MixEval", c, s) for c, s in HUB_CONFIGS)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"mixeval-{version}"]  # recognised
    for s in ALL_SPLITS:
        stored = json.loads(split_file(tmp_path, version, s).read_text(encoding="utf-8"))
        shipped = raw_file(data_path, version, s)
        assert list(stored) == list(shipped)  # the same ids, in the same order
        assert stored == shipped
        assert [list(v) for v in stored.values()] == [list(v) for v in shipped.values()]  # key order
        for item in stored.values():
            if s.is_multichoice:
                assert all(type(t) is int for t in item["target"])
            else:
                assert all(type(t) is str for t in item["target"]) and "options" not in item
    assert items == load_split(data_path, version, MC, fetch=no_hub)
