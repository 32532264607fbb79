"""The data pipeline: scanning, loading, conversion to RGB, splitting, saving, the card."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from asl_hf.core.constants import CLASS_NAMES
from asl_hf.data import (
    format_split_table,
    load_image_folder,
    load_prepared_dataset,
    prepare_dataset,
    scan_image_folder,
    split_dataset,
)
from asl_hf.data.loading import file_names
from asl_hf.data.splitting import frame_number
from asl_hf.core.errors import DataError, OutputExistsError

REPO = Path(__file__).resolve().parents[1]


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def add_bad_files(root: Path) -> dict[str, str]:
    """Every kind of bad input the scan must catch; returns {relative path: expected problem kind}."""
    (root / "A" / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (root / "B" / "notes.txt").write_text("not an image")
    (root / "C" / "C999.jpg").write_bytes(b"")
    good = (root / "D" / "D1.jpg").read_bytes()
    (root / "D" / "D999.jpg").write_bytes(good[: len(good) // 2])
    (root / "E" / "E999.jpg").write_text("<html>this is an error page, not a photo</html>")
    Image.new("1", (10_000, 5_000)).save(root / "F" / "F999.png")  # 50 Mpx in a few KB: decompression-bomb sized
    (root / "unknown").mkdir()
    Image.new("RGB", (8, 8)).save(root / "unknown" / "x1.jpg")
    (root / "readme.md").write_text("stray file")
    return {
        "A/.DS_Store": "not_an_image",
        "B/notes.txt": "not_an_image",
        "C/C999.jpg": "empty_file",
        "D/D999.jpg": "truncated",
        "E/E999.jpg": "unreadable",
        "F/F999.png": "too_large",
        "unknown": "unexpected_class",
        "readme.md": "outside_class_folder",
    }


def test_stratified_split_sizes_and_classes(synthetic_folder):
    dataset, report = load_image_folder(synthetic_folder)
    assert len(dataset) == 29 * 20 and not report.problems
    assert dataset.features["label"].names == CLASS_NAMES
    splits = split_dataset(dataset, seed=1)
    assert {k: len(v) for k, v in splits.items()} == {"train": 464, "validation": 58, "test": 58}
    for name, per_class in (("train", 16), ("validation", 2), ("test", 2)):
        counts = Counter(splits[name]["label"])
        assert set(counts) == set(range(29)) and set(counts.values()) == {per_class}
    all_names = sum((file_names(splits[s]) for s in splits), [])
    assert len(set(all_names)) == len(all_names) == 580  # a partition: nothing lost, nothing twice


def test_split_is_deterministic_and_seeded(synthetic_folder):
    dataset, _ = load_image_folder(synthetic_folder)
    first = split_dataset(dataset, seed=7)
    again = split_dataset(load_image_folder(synthetic_folder)[0], seed=7)
    other = split_dataset(dataset, seed=8)
    for split in ("train", "validation", "test"):
        assert file_names(first[split]) == file_names(again[split])
    assert file_names(first["test"]) != file_names(other["test"])


def test_group_split_keeps_frame_blocks_together(synthetic_folder):
    dataset, _ = load_image_folder(synthetic_folder)
    splits = split_dataset(dataset, seed=3, split_by="group", group_size=5)
    owner = {}
    for split, ds in splits.items():
        for name in file_names(ds):
            block = (name.rstrip("0123456789.jpg"), frame_number(name) // 5)
            assert owner.setdefault(block, split) == split, f"block {block} is in {owner[block]} and {split}"
    sizes = {k: len(v) for k, v in splits.items()}
    assert sum(sizes.values()) == 580 and sizes["test"] >= 29 and sizes["validation"] >= 29
    assert file_names(splits["test"]) == file_names(split_dataset(dataset, seed=3, split_by="group", group_size=5)["test"])
    with pytest.raises(DataError, match="group_size"):
        split_dataset(dataset, seed=3, split_by="group", group_size=50)


def test_frame_number():
    assert frame_number("A123.jpg") == 123
    assert frame_number("space_17.png") == 17
    assert frame_number("nothing.jpg") is None


def test_bad_files_are_reported_and_skipped(make_folder):
    root = make_folder(images_per_class=6)
    expected = add_bad_files(root)
    (root / "G").rename(root / "G_old")  # G becomes an unexpected folder...
    (root / "G").mkdir()  # ...and G an empty class
    for path in list((root / "H").iterdir())[2:]:
        path.unlink()  # H keeps 2 images: too few to stratify
    report = scan_image_folder(root)
    kinds = {str(Path(p.path).relative_to(root)): p.kind for p in report.problems}
    for path, kind in expected.items():
        assert kinds.get(path) == kind, (path, kinds.get(path))
    assert kinds["G"] == "empty_class" and kinds["G_old"] == "unexpected_class" and kinds["H"] == "too_few_images"
    labels = Counter(image.label for image in report.images)
    assert "G" not in labels and "H" not in labels and labels["A"] == 6 and labels["D"] == 6
    assert all(Path(image.path).suffix in {".jpg", ".png"} for image in report.images)
    text = report.format_text()
    assert "D999.jpg: truncated" in text and "F999.png: too_large" in text

    with pytest.raises(DataError) as error:
        scan_image_folder(root, strict=True)
    assert "\n" not in str(error.value) and str(root) in str(error.value)

    # Preparing refuses a folder that is not a class (a typo would drop a class silently), in one line naming it.
    output = root.parent / "prepared"
    with pytest.raises(DataError) as error:
        prepare_dataset(output, train_dir=str(root))
    assert "\n" not in str(error.value) and str(root / "G_old") in str(error.value) and "'unknown'" in str(error.value)
    assert not output.exists()
    for stray in ("G_old", "unknown"):
        for path in (root / stray).iterdir():
            path.unlink()
        (root / stray).rmdir()
    prepared = prepare_dataset(output, train_dir=str(root))
    assert sum(len(s) for s in prepared.splits.values()) == 27 * 6  # G empty, H too few: skipped and reported
    assert (output / "data_report.txt").read_text().count("\n") >= len(expected) - 1


def test_raw_folder_is_never_modified(make_folder, tmp_path):
    root = make_folder(images_per_class=5)
    add_bad_files(root)
    before = tree_digest(root)
    with pytest.raises(DataError, match="unknown"):  # the stray class folder stops the run...
        prepare_dataset(tmp_path / "out", train_dir=str(root))
    assert tree_digest(root) == before
    (root / "unknown" / "x1.jpg").rename(root / "A" / "A999.jpg")
    (root / "unknown").rmdir()
    before = tree_digest(root)
    prepare_dataset(tmp_path / "out", train_dir=str(root))  # ...the bad files are skipped
    assert tree_digest(root) == before


def _save_variants(folder: Path) -> None:
    base = Image.new("RGB", (40, 30), (200, 40, 40))
    base.paste((20, 20, 220), (0, 0, 20, 30))  # left half blue, right half red
    rgba = base.convert("RGBA")
    rgba.putalpha(128)
    rgba.save(folder / "A101.png")
    base.convert("LA").save(folder / "A102.png")
    base.convert("P").save(folder / "A103.png")
    base.convert("CMYK").save(folder / "A104.jpg")
    sixteen = Image.fromarray((np.asarray(base.convert("L"), dtype=np.uint16) * 257).astype(np.uint16))
    sixteen.save(folder / "A105.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: a viewer rotates it 90 degrees clockwise
    base.transpose(Image.Transpose.ROTATE_90).save(folder / "A106.jpg", exif=exif.tobytes())
    frames = [base, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    frames[0].save(folder / "A107.gif", save_all=True, append_images=frames[1:])


def test_any_mode_becomes_upright_rgb(make_folder):
    root = make_folder(images_per_class=4, classes=["A", "B", "C"])
    _save_variants(root / "A")
    dataset, report = load_image_folder(root)
    converted = {Path(i.path).name for i in report.images if i.needs_conversion}
    assert converted == {"A101.png", "A102.png", "A103.png", "A104.jpg", "A105.png", "A106.jpg", "A107.gif"}
    names = file_names(dataset)
    for name, example in zip(names, dataset):
        image = example["image"]
        assert image.mode == "RGB", name
        if name.startswith("A10"):
            assert image.size == (40, 30), name  # EXIF-rotated one comes out upright
            left, right = image.getpixel((5, 15)), image.getpixel((35, 15))
            if name not in ("A102.png", "A105.png"):  # grayscale ones keep only brightness
                assert left[2] > left[0] and right[0] > right[2], name
            if name == "A105.png":
                assert 0 < left[0] < 250 and left != right  # 16-bit scaled, not clipped to white


def test_save_and_reload_without_raw_folder(make_folder, tmp_path):
    root = make_folder(images_per_class=10)
    output = tmp_path / "prepared"
    prepared = prepare_dataset(output, train_dir=str(root), seed=5)
    expected = {s: (ds["label"], np.asarray(ds[0]["image"])) for s, ds in prepared.splits.items()}
    os.rename(root, tmp_path / "moved")  # the saved data set must not point at the raw files
    reloaded = load_prepared_dataset(output)
    for split in ("train", "validation", "test"):
        assert reloaded[split]["label"] == expected[split][0]
        assert np.array_equal(np.asarray(reloaded[split][0]["image"]), expected[split][1])
    for name in ("README.md", "data_report.json", "data_report.txt", "split_info.json", "dataset_dict.json"):
        assert (output / name).is_file(), name
    with pytest.raises(OutputExistsError):
        prepare_dataset(output, train_dir=str(tmp_path / "moved"))


def test_interrupted_run_leaves_no_output(make_folder, tmp_path, monkeypatch):
    root = make_folder(images_per_class=5)
    output = tmp_path / "prepared"

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("huggingface_hub.DatasetCard.save", boom)
    with pytest.raises(KeyboardInterrupt):
        prepare_dataset(output, train_dir=str(root))
    assert not output.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["raw"]  # no staging folder left behind


def test_dataset_card_content(make_folder, tmp_path):
    root = make_folder(images_per_class=10)
    prepared = prepare_dataset(tmp_path / "p", train_dir=str(root), seed=11, split_by="group", group_size=3)
    card = (tmp_path / "p" / "README.md").read_text()
    assert card.startswith("---\n") and "task_categories:\n- image-classification" in card
    assert "Grouped split" in card and "blocks of 3" in card and "seed 11" in card
    assert "`del`, `nothing`, `space`" in card and "J, Z" in card
    assert format_split_table(prepared.splits) in card
    for split, ds in prepared.splits.items():
        assert str(len(ds)) in card


def test_prepare_script_table_and_errors(make_folder, tmp_path):
    root = make_folder(images_per_class=10)
    run = lambda *a: subprocess.run([sys.executable, str(REPO / "scripts" / "prepare_data.py"), *a], capture_output=True, text=True)  # noqa: E731
    ok = run("--train_dir", str(root), "--output_dir", str(tmp_path / "out"))
    assert ok.returncode == 0, ok.stderr
    assert "| **total** | 232 | 29 | 29 | 290 |" in ok.stdout and "images/s" in ok.stdout
    missing = run("--train_dir", str(tmp_path / "nope"), "--output_dir", str(tmp_path / "out2"))
    assert missing.returncode == 2 and missing.stderr.strip().count("\n") == 0
    assert missing.stderr.startswith("error: ") and "nope" in missing.stderr and not (tmp_path / "out2").exists()
    again = run("--train_dir", str(root), "--output_dir", str(tmp_path / "out"))
    assert again.returncode == 2 and "--overwrite_output_dir" in again.stderr


def test_bytes_of_converted_images_are_lossless(make_folder):
    root = make_folder(images_per_class=3, classes=["A", "B", "C"])
    image = Image.new("RGBA", (9, 9), (10, 200, 30, 255))
    image.save(root / "A" / "A50.png")
    dataset, _ = load_image_folder(root)
    row = [ex for name, ex in zip(file_names(dataset), dataset) if name == "A50.png"][0]
    assert row["image"].getpixel((4, 4)) == (10, 200, 30)


# --- the layout the public download unpacks to --------------------------------------------------------------------


def nest(folder: Path) -> Path:
    """Move ``folder`` to ``folder/<same name>`` (how the public zip unpacks) and add macOS litter beside it."""
    moved = folder.with_name(folder.name + ".tmp")
    folder.rename(moved)
    folder.mkdir()
    moved.rename(folder / folder.name)
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    return folder


def test_resolve_nested_root_descends_only_into_a_lone_folder_of_the_same_name(tmp_path, capsys):
    from asl_hf.data import resolve_nested_root

    outer = tmp_path / "asl_alphabet_train"
    (outer / "asl_alphabet_train" / "A").mkdir(parents=True)
    (outer / ".DS_Store").write_bytes(b"x")
    assert resolve_nested_root(outer) == outer / "asl_alphabet_train"
    assert capsys.readouterr().out == "asl_alphabet_train: using the nested folder asl_alphabet_train/asl_alphabet_train " \
                                      f"({outer / 'asl_alphabet_train'})\n"
    assert resolve_nested_root(outer / "asl_alphabet_train") == outer / "asl_alphabet_train"  # no nesting: as given
    (tmp_path / "other" / "photos").mkdir(parents=True)
    assert resolve_nested_root(tmp_path / "other") == tmp_path / "other"  # another name
    (tmp_path / "A" / "A").mkdir(parents=True)
    assert resolve_nested_root(tmp_path / "A") == tmp_path / "A"  # a class folder inside a folder named like it
    (outer / "B").mkdir()
    assert resolve_nested_root(outer) == outer  # not alone
    assert resolve_nested_root(tmp_path / "absent") == tmp_path / "absent"  # the scan reports it
    assert capsys.readouterr().out == ""


def test_nested_download_folder_prepares_like_the_flat_one(make_folder, tmp_path, capsys):
    flat = make_folder(images_per_class=3, classes=["A", "B", "C"], name="flat")
    nested = nest(make_folder(images_per_class=3, classes=["A", "B", "C"], name="asl_alphabet_train"))
    expected = prepare_dataset(tmp_path / "from_flat", train_dir=str(flat), seed=3)
    capsys.readouterr()
    prepared = prepare_dataset(tmp_path / "from_nested", train_dir=str(nested), seed=3)
    out = capsys.readouterr().out
    assert out.count("using the nested folder asl_alphabet_train/asl_alphabet_train") == 1, out
    assert prepared.report.root == str(nested / "asl_alphabet_train")
    assert not [p for p in prepared.report.problems if p.kind != "missing_class"]  # .DS_Store beside the inner folder: ignored
    for split in ("train", "validation", "test"):
        assert prepared.splits[split]["label"] == expected.splits[split]["label"]
        assert file_names(prepared.splits[split]) == file_names(expected.splits[split])


def test_nested_public_test_folder_is_read_by_folder_images(make_folder, tmp_path, capsys):
    """asl_alphabet_test/asl_alphabet_test/A_test.jpg ...: the flat <CLASS>_test.jpg layout, one level down."""
    from asl_hf.evaluation import folder_images

    source = make_folder(images_per_class=1, classes=["A", "B", "space"], name="source")
    outer = tmp_path / "asl_alphabet_test"
    (outer / "asl_alphabet_test").mkdir(parents=True)
    (outer / ".DS_Store").write_bytes(b"x")
    for name in ("A", "B", "space"):
        (outer / "asl_alphabet_test" / f"{name}_test.jpg").write_bytes((source / name / f"{name}1.jpg").read_bytes())
    images = folder_images(outer, CLASS_NAMES)
    assert "using the nested folder asl_alphabet_test/asl_alphabet_test" in capsys.readouterr().out
    assert sorted(images.labels) == ["A", "B", "space"] and images.name == "asl_alphabet_test" and not images.skipped
    assert all(Path(p).parent == outer / "asl_alphabet_test" for p in images.identifiers)

    classes = nest(make_folder(images_per_class=2, classes=["C", "D"], name="asl_alphabet_val"))  # class folders, nested
    images = folder_images(classes, CLASS_NAMES, show_progress=False)
    assert sorted(images.labels) == ["C", "C", "D", "D"] and images.source == str(classes / "asl_alphabet_val")
