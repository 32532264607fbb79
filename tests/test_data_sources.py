"""Several raw folders as one data set: the ``source`` column, splits within each source, name groups, card and info.

Generated images only, except the last test, which checks the real folders of ``../shared`` and skips without them.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import datasets
import pytest

from asl_hf.core.constants import CLASS_NAMES
from asl_hf.core.errors import DataError
from asl_hf.data import (
    count_groups,
    format_source_class_table,
    format_source_table,
    generate_synthetic_asl,
    group_key,
    load_and_split,
    load_image_folder,
    load_image_folders,
    load_prepared_dataset,
    prepare_dataset,
    split_dataset,
)
from asl_hf.data.loading import file_names
from asl_hf.data.synthetic import render_example

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SAMPLE = SHARED / "data" / "asl_alphabet_sample"
MASSEY = SHARED / "data" / "other_signers_train"
PEOPLE, LIGHTS, FRAMES = ("hand1", "hand2"), ("bot", "left", "top"), (1, 2, 3)


def make_signers_folder(root: Path, classes: list[str]) -> Path:
    """Massey-style names: ``hand<person>_<letter>_<light>_seg_<frame>_cropped.jpeg``, 2 x 3 x 3 = 18 per class."""
    for name in classes:
        (root / name).mkdir(parents=True)
        for i, (person, light, frame) in enumerate((p, li, f) for p in PEOPLE for li in LIGHTS for f in FRAMES):
            image = render_example(CLASS_NAMES.index(name), i + 1, image_size=16, seed=1)
            image.save(root / name / f"{person}_{name.lower()}_{light}_seg_{frame}_cropped.jpeg")
    return root


@pytest.fixture
def two_sources(tmp_path) -> tuple[Path, Path]:
    """``asl``: frame-numbered names (``A1.jpg`` ...), classes A, B, C, 12 each; ``signers``: person/letter/light/frame
    names, classes B, C, D, 18 each (6 groups of 3)."""
    asl = generate_synthetic_asl(tmp_path / "asl", images_per_class=12, image_size=16, classes=["A", "B", "C"])
    return asl, make_signers_folder(tmp_path / "signers", ["B", "C", "D"])


def per_source_and_class(splits: datasets.DatasetDict) -> dict[str, Counter]:
    sources, labels = splits["train"].features["source"], splits["train"].features["label"]
    return {
        split: Counter((sources.int2str(s), labels.int2str(label)) for s, label in zip(ds["source"], ds["label"]))
        for split, ds in splits.items()
    }


def test_group_key_rule():
    assert group_key("A1005.jpg", 300) == 3 and group_key("A299.jpg", 300) == 0  # frame blocks, as before
    assert group_key("del1005.jpg", 300) == group_key("space_1100.png", 300) == 3
    assert group_key("0042.png", 10) == group_key("IMG_0049.JPG", 10) == 4  # a number after an optional word
    assert group_key("hand1_a_bot_seg_3_cropped.jpeg") == "hand1_a_bot_seg_#_cropped"  # the last number is the frame
    assert group_key("p2_B_12_v3.jpg") == "p2_B_12_v#"
    assert group_key("nothing.jpg") == group_key("nothing.png") == "nothing"  # no number: a group of its own
    assert group_key("A_test.jpg") == "A_test"


def test_several_folders_make_one_dataset_with_a_source_column(two_sources):
    asl, signers = two_sources
    splits, report = load_and_split([asl, signers], seed=0)
    features = splits["train"].features
    assert list(features) == ["image", "label", "source"]
    assert features["label"].names == CLASS_NAMES and features["source"].names == ["asl", "signers"]
    counts = per_source_and_class(splits)
    for source, classes, (train, validation, test) in (("asl", "ABC", (10, 1, 1)), ("signers", "BCD", (14, 2, 2))):
        for name in classes:  # 80/10/10 within each source and class, so every source is in every split
            assert (counts["train"][source, name], counts["validation"][source, name], counts["test"][source, name]) == (train, validation, test)
    assert not counts["train"]["asl", "D"] and not counts["train"]["signers", "A"]  # a class missing from a source is fine
    assert sum(len(ds) for ds in splits.values()) == 3 * 12 + 3 * 18 == len(report.images)
    assert list(report.sources) == ["asl", "signers"] and report.root == f"{asl}, {signers}"
    assert [line.split(":")[0] for line in report.summary().splitlines() if line.startswith("Scanned")] == [f"Scanned {asl}", f"Scanned {signers}"]
    assert report.to_dict()["sources"]["signers"]["class_counts"] == {"B": 18, "C": 18, "D": 18}


def test_grouped_split_never_cuts_a_group(two_sources):
    splits, _ = load_and_split(list(two_sources), seed=2, split_by="group", group_size=4)
    owner: dict[tuple, str] = {}
    for split, ds in splits.items():
        for name, source, label in zip(file_names(ds), ds["source"], ds["label"]):
            group = (source, label, group_key(name, 4))
            assert owner.setdefault(group, split) == split, f"group {group} is in {owner[group]} and {split}"
    signer_groups = {key for source, _, key in owner if source == 1}
    assert signer_groups == {f"{p}_{c}_{li}_seg_#_cropped" for p in PEOPLE for c in "bcd" for li in LIGHTS}  # person x letter x light
    assert {key for source, _, key in owner if source == 0} == {0, 1, 2, 3}  # frames 1-3, 4-7, 8-11, 12
    assert count_groups(splits, 4) == {"asl": 3 * 4, "signers": 3 * 6}
    counts = per_source_and_class(splits)
    for split in splits:
        assert {source for source, _ in counts[split]} == {"asl", "signers"}, split
        assert all(counts[split]["signers", name] % 3 == 0 for name in "BCD")  # whole groups of 3


def test_single_folder_split_is_unchanged(make_folder):
    """The split the old single-folder code made (recorded before sources existed): same files, same seed."""
    root = make_folder(images_per_class=12, image_size=16, classes=["A", "B", "space"])
    splits, _ = load_and_split(str(root), seed=5)
    assert file_names(splits["validation"]) == ["A9.jpg", "B4.jpg", "space9.jpg"]
    assert file_names(splits["test"]) == ["A7.jpg", "B9.jpg", "space8.jpg"]
    grouped, _ = load_and_split(str(root), seed=5, split_by="group", group_size=3)
    assert file_names(grouped["validation"]) == ["A10.jpg", "A11.jpg", "A9.jpg", "B12.jpg", "space1.jpg", "space2.jpg"]
    assert file_names(grouped["test"]) == ["A12.jpg", "B3.jpg", "B4.jpg", "B5.jpg", "space12.jpg"]
    old_style = split_dataset(load_image_folder(root)[0], seed=5)  # no source column: the same split
    assert file_names(old_style["test"]) == file_names(splits["test"])


def test_adding_a_source_leaves_the_first_ones_split_alone(two_sources):
    asl, signers = two_sources
    for split_by in ("random", "group"):
        alone, _ = load_and_split(asl, seed=9, split_by=split_by, group_size=4)
        both, _ = load_and_split([asl, signers], seed=9, split_by=split_by, group_size=4)
        for split in alone:
            first = [name for name, source in zip(file_names(both[split]), both[split]["source"]) if source == 0]
            assert first == file_names(alone[split]), (split_by, split)


def test_unknown_class_folder_in_a_second_source_is_a_one_line_error(two_sources, monkeypatch):
    asl, signers = two_sources
    (signers / "D").rename(signers / "d")
    monkeypatch.setattr("asl_hf.data.loading.scan_image_folder", lambda *a, **k: pytest.fail("scanned before checking"))
    with pytest.raises(DataError) as error:
        load_and_split([asl, signers])
    message = str(error.value)
    assert "\n" not in message and message.startswith(f"{signers / 'd'}: 'd' is not a class folder") and "did you mean 'D'" in message


def test_a_parent_folder_given_as_a_source_says_so(two_sources, tmp_path):
    asl, signers = two_sources
    with pytest.raises(DataError, match="it holds class folders itself"):
        load_image_folders([asl, tmp_path])  # tmp_path holds asl/ and signers/, not class folders


def test_source_names_are_unique_and_a_folder_counts_once(tmp_path, capsys):
    first = generate_synthetic_asl(tmp_path / "one" / "photos", images_per_class=3, image_size=16, classes=["A"])
    second = generate_synthetic_asl(tmp_path / "two" / "photos", images_per_class=3, image_size=16, classes=["B"])
    nested = generate_synthetic_asl(tmp_path / "dl" / "asl_alphabet_train" / "asl_alphabet_train", images_per_class=3,
                                    image_size=16, classes=["C"])
    dataset, report = load_image_folders([first, second, nested.parent], num_proc=1)
    assert dataset.features["source"].names == ["photos", "photos-2", "asl_alphabet_train"]
    assert report.sources["asl_alphabet_train"].root == str(nested)  # the download's nested layout, read from inside
    assert capsys.readouterr().out.count("using the nested folder") == 1
    with pytest.raises(DataError, match="given twice"):
        load_image_folders([first, second, tmp_path / "one" / "photos"])


def test_card_split_info_and_reload_list_the_sources(two_sources, tmp_path):
    asl, signers = two_sources
    output = tmp_path / "prepared"
    prepared = prepare_dataset(output, train_dir=[str(asl), str(signers)], seed=4, split_by="group", group_size=4)
    card = (output / "README.md").read_text()
    groups = count_groups(prepared.splits, 4)
    assert format_source_table(prepared.splits, groups) in card and "| signers | 36 | 9 | 9 | 54 | 18 |" in card
    assert format_source_class_table(prepared.splits) in card and "| D | 0 | 18 | 18 |" in card
    assert f"`signers`: `{signers}`" in card and "`source` column" in card
    assert "blocks of 4" in card and "`hand1_a_bot_seg_#_cropped`" in card and "per source and class" in card
    info = json.loads((output / "split_info.json").read_text())
    assert info["train_dir"] == str(asl) and info["train_dirs"] == [str(asl), str(signers)]  # train_dir: the first folder
    assert info["sources"]["signers"] | {"class_counts": None} == {
        "dir": str(signers), "num_images": 54, "num_train": 36, "num_validation": 9, "num_test": 9, "class_counts": None}
    assert info["sources"]["signers"]["class_counts"] == {"B": 18, "C": 18, "D": 18}
    report = json.loads((output / "data_report.json").read_text())
    assert report["num_images"] == 90 and set(report["sources"]) == {"asl", "signers"}
    reloaded = load_prepared_dataset(output)
    assert list(reloaded["test"]["source"]) == list(prepared.splits["test"]["source"])


def test_single_folder_card_keeps_its_wording(make_folder, tmp_path):
    root = make_folder(images_per_class=10, image_size=16, classes=["A", "B", "C"])
    prepare_dataset(tmp_path / "p", train_dir=str(root), seed=1)
    card = (tmp_path / "p" / "README.md").read_text()
    assert f"Photos from `{root}`" in card and "| source |" not in card and "pretty_name: ASL Alphabet\n" in card
    info = json.loads((tmp_path / "p" / "split_info.json").read_text())
    assert info["train_dir"] == str(root) and info["train_dirs"] == [str(root)] and info["sources"]["raw"]["num_images"] == 30


def test_prepare_script_takes_several_train_dirs(two_sources, tmp_path):
    asl, signers = two_sources
    run = lambda *a: subprocess.run([sys.executable, str(REPO / "scripts" / "prepare_data.py"), *a], capture_output=True, text=True)  # noqa: E731
    ok = run("--train_dir", str(asl), str(signers), "--output_dir", str(tmp_path / "out"), "--split_by", "group", "--group_size", "4")
    assert ok.returncode == 0, ok.stderr
    assert re.search(r"^\| asl \|( \d+ \|){3} 36 \| 12 \|$", ok.stdout, re.M), ok.stdout  # per source: splits, total, groups
    assert re.search(r"^\| signers \| 36 \| 9 \| 9 \| 54 \| 18 \|$", ok.stdout, re.M), ok.stdout
    (signers / "B").rename(signers / "Bee")
    bad = run("--train_dir", str(asl), str(signers), "--output_dir", str(tmp_path / "out2"))
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and str(signers / "Bee") in bad.stderr
    assert not (tmp_path / "out2").exists()


def _digest(names: list[str]) -> str:
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]


@pytest.mark.skipif(not (SAMPLE.is_dir() and MASSEY.is_dir()), reason=f"real photos not found under {SHARED} (../shared is absent)")
def test_real_folders_split_as_published():
    """The README's published numbers come from the sample's split: it must not move when sources are added."""
    published = {  # file names of the splits made before sources existed (seed 42, group size 300)
        "random": {"validation": "473fc88ad47dda8d", "test": "fb8ac55cb9412794"},
        "group": {"validation": "26dcd655d7101ec5", "test": "22eee5c6985eda4f"},
    }
    for split_by, digests in published.items():
        splits, _ = load_and_split([str(SAMPLE), str(MASSEY)], seed=42, split_by=split_by, num_proc=2)
        for split, digest in digests.items():
            sample_part = [name for name, source in zip(file_names(splits[split]), splits[split]["source"]) if source == 0]
            assert _digest(sample_part) == digest, (split_by, split)
    assert count_groups(splits, 300) == {"asl_alphabet_sample": 29 * 10, "other_signers_train": 259}
    massey = Counter(group_key(name) for name, source in zip(file_names(splits["test"]), splits["test"]["source"]) if source == 1)
    assert set(massey.values()) == {5} and all(len(key.split("_")) == 6 for key in massey)  # person_letter_light_seg_#_cropped
