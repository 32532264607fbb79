"""The Gradio Space: same predictions as ``asl_hf.inference`` through the API, clear messages for bad input,
a missing model reported (not fatal), and a README/requirements that match what is installed.

Models are small ones trained for a few steps here (the landmark model is untrained: its drawing and its "No hand
found" do not depend on the weights); the app runs as ``python space/app.py`` in a subprocess.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from asl_hf.core.constants import CLASS_NAMES
from asl_hf.data.synthetic import render_example
from asl_hf.models.asl_landmarks import mediapipe_available
from tests.requirements_site import isolated_env, isolated_python, requirements_site

REPO_ROOT = Path(__file__).resolve().parents[1]
SPACE_DIR = REPO_ROOT / "space"
START_TIMEOUT_S = 180
OTHER_SIGNERS_A = REPO_ROOT.parent / "shared" / "data" / "other_signers_dev" / "A"
"""Real phone photos of other signers' hands (outside the repository; tests that need one skip without it)."""
MODEL_NAMES = ("Custom CNN", "MobileNetV2", "Hand landmarks")


@functools.cache
def load_space_app():
    """``space/app.py`` as a module (the Space folder is not a package). Importing it loads no model."""
    spec = importlib.util.spec_from_file_location("asl_space_app", SPACE_DIR / "app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    return module


# --- Small trained models ----------------------------------------------------------------------------------------
def _training_batch(image_size: int, count: int):
    images = [render_example(i % len(CLASS_NAMES), 1 + i // len(CLASS_NAMES), image_size) for i in range(count)]
    pixels = torch.from_numpy(np.stack([np.asarray(image, dtype=np.float32) / 127.5 - 1.0 for image in images]))
    return pixels.permute(0, 3, 1, 2).contiguous(), torch.arange(count) % len(CLASS_NAMES)


def _train_steps(forward, parameters, pixels, labels, steps: int = 3) -> None:
    optimizer = torch.optim.AdamW(parameters, lr=1e-3)
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(forward(pixels), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def make_small_models(folder: Path) -> dict[str, Path]:
    """A tiny CNN (transformers folder + remote code) and a 64 px MobileNetV2 (timm folder), a few steps trained."""
    from asl_hf.models import AslCnnConfig, AslCnnForImageClassification, build_image_processor
    from asl_hf.models.mobilenet import create_mobilenetv2, save_mobilenetv2

    torch.manual_seed(0)
    cnn = AslCnnForImageClassification(AslCnnConfig(image_size=32, conv_channels=[8, 16], hidden_size=32)).train()
    pixels, labels = _training_batch(32, count=len(CLASS_NAMES))
    _train_steps(lambda x: cnn(pixel_values=x).logits, cnn.parameters(), pixels, labels)
    cnn_dir = folder / "cnn"
    cnn.eval().save_pretrained(cnn_dir)
    build_image_processor(cnn.config).save_pretrained(cnn_dir)

    mobilenet = create_mobilenetv2(pretrained=False, image_size=64).train()
    pixels, labels = _training_batch(64, count=8)
    _train_steps(mobilenet, mobilenet.parameters(), pixels, labels, steps=2)
    mobilenet_dir = save_mobilenetv2(mobilenet.eval(), folder / "mobilenetv2")
    return {"cnn": cnn_dir, "mobilenetv2": mobilenet_dir, "landmarks": make_landmarks_model(folder)}


def make_landmarks_model(folder: Path) -> Path:
    """An untrained hand-landmark model folder (config, weights, MediaPipe processor and their code files)."""
    from asl_hf.models.asl_landmarks import AslLandmarksConfig, AslLandmarksForImageClassification, AslLandmarksImageProcessor, save_landmarks_model

    torch.manual_seed(0)
    model = AslLandmarksForImageClassification(AslLandmarksConfig(hidden_sizes=[32])).eval()
    return save_landmarks_model(model, AslLandmarksImageProcessor(), folder / "landmarks")


def needs_mediapipe() -> None:
    if not mediapipe_available():
        pytest.skip('hand landmarks need MediaPipe (pip install "mediapipe==0.10.14")')


def hand_photo() -> Path:
    """One real photo of a hand (the letter A, signed by someone else than the training signer)."""
    photos = sorted(OTHER_SIGNERS_A.glob("*.jpg"))
    if not photos:
        pytest.skip(f"no real hand photos: {OTHER_SIGNERS_A} is absent (the shared data folder beside the repository)")
    return photos[0]


def write_eval_results(model_dir: Path, probe_dir: Path) -> dict[str, float]:
    """Measure the model on a few generated images with ``asl_hf.evaluation``-style metrics; save like training does."""
    from sklearn.metrics import accuracy_score, f1_score

    from asl_hf.inference import load_classifier

    images = [render_example(c, 30, 48) for c in range(len(CLASS_NAMES))]
    predicted = load_classifier(model_dir).predict_ids(images)
    truth = list(range(len(CLASS_NAMES)))
    results = {"test_accuracy": accuracy_score(truth, predicted), "test_macro_f1": f1_score(truth, predicted, average="macro")}
    (model_dir / "eval_results.json").write_text(json.dumps(results))
    return results


# --- Running the app ---------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningSpace:
    """``python space/app.py`` in a subprocess on a free local port; ``url`` once it answers."""

    def __init__(self, env_overrides: dict[str, str], log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_SERVER_NAME": "127.0.0.1",
               "GRADIO_SERVER_PORT": str(self.port), "PYTHONUNBUFFERED": "1", **env_overrides}
        self.log_path = log_path
        self.started = time.perf_counter()
        self.process = subprocess.Popen([sys.executable, str(SPACE_DIR / "app.py")], env=env, cwd=REPO_ROOT,
                                        stdout=log_path.open("w"), stderr=subprocess.STDOUT)

    def wait_until_up(self) -> None:
        while time.perf_counter() - self.started < START_TIMEOUT_S:
            if self.process.poll() is not None:
                pytest.fail(f"space/app.py exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/config", timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        pytest.fail(f"space/app.py did not answer within {START_TIMEOUT_S} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text()[-3000:]

    def config_text(self) -> str:
        with urllib.request.urlopen(f"{self.url}/config", timeout=10) as response:
            return response.read().decode()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="module")
def small_models(tmp_path_factory):
    """The small models; the CNN with a model.onnx, as training writes it (the Space runs it with ONNX Runtime)."""
    from asl_hf.inference.onnx_export import export_trained_model

    folder = tmp_path_factory.mktemp("space_models")
    models = make_small_models(folder)
    models["cnn_results"] = write_eval_results(models["cnn"], folder)
    assert export_trained_model(models["cnn"], [render_example(c, 30, 48) for c in range(4)], say=lambda line: None)["exported"]
    return models


@pytest.fixture(scope="module")
def space(small_models, tmp_path_factory):
    app = RunningSpace({"ASL_CNN_MODEL": str(small_models["cnn"]), "ASL_MOBILENET_MODEL": str(small_models["mobilenetv2"]),
                        "ASL_LANDMARKS_MODEL": str(small_models["landmarks"])}, tmp_path_factory.mktemp("space_log") / "app.log")
    try:
        app.wait_until_up()
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="module")
def client(space):
    from gradio_client import Client

    return Client(space.url, verbose=False)


def predict(client, path):
    from gradio_client import handle_file

    return client.predict(handle_file(str(path)) if path is not None else None, api_name="/predict")


def by_model(outputs) -> tuple[dict[str, tuple], str]:
    """``/predict``'s flat outputs as ``{model name: (label, latency, view)}`` and the message (each model's verdict
    line, the fourth output, is read by :func:`verdicts`)."""
    *values, message = outputs
    assert len(values) == 4 * len(MODEL_NAMES)
    return {name: tuple(values[4 * i : 4 * i + 3]) for i, name in enumerate(MODEL_NAMES)}, message


def verdicts(outputs) -> dict[str, str]:
    """Each model's headline (its letter, "Unsure: ...", or "No hand found")."""
    *values, _ = outputs
    return {name: values[4 * i + 3] for i, name in enumerate(MODEL_NAMES)}


def pixel_models_ok(message: str) -> bool:
    """No warning at all where MediaPipe is installed; without it, none about the CNN or MobileNetV2 (the page then
    reports the landmark model as not loaded)."""
    if mediapipe_available():
        return "⚠️" not in message
    return not any(f"⚠️ {name}" in message for name in MODEL_NAMES[:2])


def confidences(label_output) -> dict[str, float]:
    return {item["label"]: item["confidence"] for item in label_output["confidences"]}


def top_of(label_output) -> str:
    """The model's most likely class in a label output (its headline may say "Unsure: ...")."""
    return label_output["confidences"][0]["label"]


def headline(expected: list[tuple[str, float]]) -> str:
    """The verdict the page shows for a model's top-k: the class, or "Unsure" with the two best guesses."""
    (best, probability), (second, second_probability) = expected[:2]
    if probability >= load_space_app().UNSURE_BELOW:
        return f"## {best}"
    return f"⚠️ **Unsure**: **{best}** ({100 * probability:.0f}%) or **{second}** ({100 * second_probability:.0f}%)?"


# --- Tests -------------------------------------------------------------------------------------------------------
def odd_mode_images() -> dict[str, Image.Image]:
    base = render_example(11, 3, 40)
    rgba = base.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(base.size))
    rotated = base.copy()
    exif = rotated.getexif()
    exif[0x0112] = 6
    rotated.info["exif"] = exif.tobytes()
    palette_transparent = base.convert("P", palette=Image.Palette.ADAPTIVE)
    palette_transparent.info["transparency"] = 0
    sixteen_bit = Image.fromarray((np.asarray(base.convert("L"), dtype=np.uint16) * 257), mode="I;16")
    return {
        "RGB": base, "L": base.convert("L"), "1": base.convert("1"), "P": base.convert("P"), "P+transparency": palette_transparent,
        "RGBA": rgba, "LA": rgba.convert("LA"), "CMYK": base.convert("CMYK"), "I;16": sixteen_bit,
        "I": base.convert("I"), "F": base.convert("F"), "YCbCr": base.convert("YCbCr"),
    }


def test_the_page_has_no_copy_of_package_code():
    """app.py is the page only: no function it defines has the name of a function the package defines (the Space
    once carried its own copies of loading, image conversion, video sampling and ranking)."""
    import ast

    def defined(tree) -> set[str]:
        return {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not node.name.startswith("_")}

    package = set().union(*(defined(ast.parse(path.read_text())) for path in (REPO_ROOT / "asl_hf").rglob("*.py")))
    page = defined(ast.parse((SPACE_DIR / "app.py").read_text()))
    assert page and not page & package, sorted(page & package)
    assert "import asl_hf" in (SPACE_DIR / "app.py").read_text() or "from asl_hf" in (SPACE_DIR / "app.py").read_text()


def test_readme_front_matter_and_requirements_match_the_app():
    import gradio
    from huggingface_hub.repocard import metadata_load

    app = load_space_app()
    meta = metadata_load(SPACE_DIR / "README.md")
    assert meta["sdk"] == "gradio" and meta["sdk_version"] == gradio.__version__
    assert meta["app_file"] == "app.py" and (SPACE_DIR / meta["app_file"]).is_file()
    assert meta["models"] == [default for _, default in app.MODEL_SOURCES.values()]
    assert meta["datasets"] == [app.DATASET_ID] and meta["license"] == "apache-2.0" and meta["python_version"] == "3.11"
    assert 0 < len(meta["short_description"]) <= 60  # the Hub rejects longer ones
    requirements = (SPACE_DIR / "requirements.txt").read_text()
    for package in ("torch", "transformers", "timm", "huggingface_hub", "pillow", "numpy", "av", "onnxruntime", "ai-edge-litert"):
        assert f"\n{package}" in requirements, package
    # The last MediaPipe with bundled hand models, and the protobuf it needs; the README says why.
    assert "\nmediapipe==0.10.14\n" in requirements and "\nprotobuf>=4.25.3,<5\n" in requirements
    assert "`mediapipe==0.10.14`, the last release whose wheel bundles the hand models" in " ".join(
        (SPACE_DIR / "README.md").read_text().split())
    assert "gradio" not in [line.split("=")[0].split(">")[0].strip() for line in requirements.splitlines()]


@pytest.mark.slow
def test_api_predictions_equal_the_package_inference(space, client, small_models, tmp_path):
    from asl_hf.inference import load_classifier

    classifiers = {name: load_classifier(small_models[name]) for name in ("cnn", "mobilenetv2")}
    samples = {"hand.jpg": render_example(7, 2, 96), "rgba.png": odd_mode_images()["RGBA"], "gray.png": render_example(20, 4, 70).convert("L")}
    for file_name, image in samples.items():
        path = tmp_path / file_name
        image.save(path)
        outputs = predict(client, path)
        results, message = by_model(outputs)
        (cnn_label, cnn_ms, cnn_view), (mobilenet_label, mobilenet_ms, mobilenet_view) = results["Custom CNN"], results["MobileNetV2"]
        assert message.startswith("Classified a ") and pixel_models_ok(message), message
        assert cnn_ms > 0 and mobilenet_ms > 0 and cnn_view is None and mobilenet_view is None  # pixel models: no view
        for name, label_output in (("cnn", cnn_label), ("mobilenetv2", mobilenet_label)):
            expected = classifiers[name].predict([Image.open(path)], top_k=5)[0]
            got = confidences(label_output)
            assert list(got) == [label for label, _ in expected], (file_name, name)
            assert label_output["label"] == expected[0][0]
            assert verdicts(outputs)[{"cnn": "Custom CNN", "mobilenetv2": "MobileNetV2"}[name]] == headline(expected)
            np.testing.assert_allclose(list(got.values()), [p for _, p in expected], atol=1e-5, rtol=0)


@pytest.mark.slow
def test_model_info_lines_show_evaluation_results(space, small_models):
    config = space.config_text()
    results = small_models["cnn_results"]
    assert f"test accuracy {100 * results['test_accuracy']:.1f}%, macro-F1 {100 * results['test_macro_f1']:.1f}%" in config
    assert "MobileNetV2** (local folder `mobilenetv2`)" in config and "no evaluation results found" in config
    assert "Runs on ONNX Runtime (model.onnx)." in config and "Runs on PyTorch (no model.onnx in the folder)." in config


def bad_inputs(folder: Path) -> dict[str, Path | None]:
    """Each awkward input the app must answer with a prediction or a clear message."""
    (folder / "notes.txt").write_text("not an image")
    (folder / "fake.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)  # PNG signature, no image
    Image.new("RGB", (1, 1), (200, 150, 120)).save(folder / "one_pixel.png")
    Image.new("1", (10000, 10000), 1).save(folder / "huge.png")  # 100 MP, a few kB: a decompression bomb
    render_example(4, 1, 64).resize((3000, 2000)).save(folder / "large.jpg", quality=70)
    odd_mode_images()["RGBA"].save(folder / "rgba.png")
    render_example(5, 1, 64).convert("L").save(folder / "gray.png")
    render_example(6, 1, 64).convert("CMYK").save(folder / "cmyk.jpg")
    frames = [render_example(c, 1, 48).convert("P") for c in range(3)]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return {"none": None, **{path.stem: path for path in sorted(folder.iterdir())}}


EXPECTED_REFUSALS = {
    "none": "No image",
    "notes": "notes.txt: not an image file",
    "fake": "fake.png: not an image file",
    "huge": "huge.png: 10000x10000 pixels is too large",
}


@pytest.mark.slow
def test_bad_inputs_get_a_prediction_or_a_clear_message_and_the_app_keeps_serving(space, client, tmp_path):
    good = tmp_path / "good.jpg"
    render_example(0, 1, 64).save(good)
    folder = tmp_path / "bad"
    folder.mkdir()
    for name, path in bad_inputs(folder).items():
        results, message = by_model(predict(client, path))
        (cnn_label, _, _), (mobilenet_label, _, _) = results["Custom CNN"], results["MobileNetV2"]
        if name in EXPECTED_REFUSALS:
            assert message.startswith("⚠️") and EXPECTED_REFUSALS[name] in message, (name, message)
            assert "Traceback" not in message and "\n" not in message
            assert not any(value for result in results.values() for value in result), results
        else:
            assert message.startswith("Classified a "), (name, message)
            assert top_of(cnn_label) in CLASS_NAMES and top_of(mobilenet_label) in CLASS_NAMES
            assert len(cnn_label["confidences"]) == len(mobilenet_label["confidences"]) == 5
        assert top_of(predict(client, good)[0]) in CLASS_NAMES, f"the app stopped answering after {name}"
    assert "Classified a 1024×683 image" in predict(client, folder / "large.jpg")[-1]  # downscaled before preprocessing
    assert space.process.poll() is None


@pytest.mark.slow
def test_missing_model_is_reported_and_the_other_model_still_works(small_models, tmp_path, monkeypatch):
    """In-process (a thread) to save a second interpreter start; ``main()`` itself is exercised by the fixture."""
    from gradio_client import Client

    app = load_space_app()
    missing = tmp_path / "no" / "such" / "model"
    monkeypatch.setenv("ASL_CNN_MODEL", str(small_models["cnn"]))
    monkeypatch.setenv("ASL_MOBILENET_MODEL", str(missing))
    monkeypatch.setenv("ASL_LANDMARKS_MODEL", str(missing))
    demo = app.build_demo(app.load_models())
    demo.queue()
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        url = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{url}/config", timeout=10) as response:
            assert f"MobileNetV2 is not available**: {missing}: no such model folder" in response.read().decode()
        image = tmp_path / "hand.png"
        render_example(1, 1, 64).save(image)
        results, message = by_model(predict(Client(url, verbose=False), image))
        (cnn_label, cnn_ms, _), (mobilenet_label, mobilenet_ms, _) = results["Custom CNN"], results["MobileNetV2"]
        assert top_of(cnn_label) in CLASS_NAMES and cnn_ms > 0
        assert not mobilenet_label and mobilenet_ms is None and not any(results["Hand landmarks"])
        assert f"MobileNetV2 is not loaded: {missing}: no such model folder" in message
    finally:
        demo.close()


def test_unloadable_models_become_one_line_reasons(tmp_path, monkeypatch):
    import asl_hf.inference.loading

    app = load_space_app()
    monkeypatch.setattr(asl_hf.inference.loading, "hub_reachable", lambda: False)
    (tmp_path / "empty").mkdir()
    reasons = {
        "asl-hf/asl-cnn": "asl-hf/asl-cnn: the Hugging Face Hub cannot be reached and the model is not in the local cache",
        str(tmp_path / "empty"): f"{tmp_path / 'empty'}: not a saved model folder (no config.json)",
        str(tmp_path / "absent"): f"{tmp_path / 'absent'}: no such model folder",
    }
    for source, reason in reasons.items():
        slot = app.load_slot("Custom CNN", source)
        assert not slot.ready and slot.error == reason
        assert app.model_info(slot) == f"⚠️ **Custom CNN is not loaded**: {reason}" and "\n" not in app.model_info(slot)


# --- Hand-landmark model ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def landmarks_slot(tmp_path_factory):
    """The Space's slot for an untrained saved landmark folder (loaded in this process, asl_hf importable)."""
    needs_mediapipe()
    slot = load_space_app().load_slot("Hand landmarks", str(make_landmarks_model(tmp_path_factory.mktemp("space_landmarks"))))
    assert slot.ready and slot.error is None, slot.error
    return slot


def grey_photo(folder: Path) -> Path:
    """A flat grey 200x200 image: nothing MediaPipe could take for a hand."""
    path = folder / "grey.png"
    Image.new("RGB", (200, 200), (128, 128, 128)).save(path)
    return path


def test_landmark_model_loads_in_the_space_from_a_saved_folder(landmarks_slot):
    assert landmarks_slot.looks_for_hands and landmarks_slot.classifier.labels == list(CLASS_NAMES)
    from asl_hf.inference.hands import BACKENDS, default_backend

    assert load_space_app().model_info(landmarks_slot) == (
        "**Hand landmarks** (local folder `landmarks`): no evaluation results found  \nRuns on PyTorch (the hand-landmark "
        "MLP is not exported: it takes a fraction of a millisecond next to MediaPipe). Webcam and Spell frames: the hand is "
        f"tracked by {BACKENDS[default_backend()]}.")


def test_landmark_model_shows_the_hand_it_classified_as_the_package_does(landmarks_slot):
    from asl_hf.inference import load_classifier

    app = load_space_app()
    photo = hand_photo()
    label, latency_ms, view, _, message = app.predict_all([landmarks_slot], {"path": str(photo)})
    image = app.prepare_image(Image.open(photo))
    assert message == f"Classified a {image.width}×{image.height} image." and latency_ms > 0
    expected = load_classifier(landmarks_slot.source).predict([Image.open(photo)], top_k=5)[0]
    assert list(label) == [name for name, _ in expected]
    np.testing.assert_allclose(list(label.values()), [p for _, p in expected], atol=1e-5, rtol=0)
    processor = landmarks_slot.classifier.processor
    drawn = processor.draw(image, processor.detect(image), app.HAND_CROP_MARGIN)
    assert np.array_equal(np.asarray(view), np.asarray(drawn))  # the landmarks drawn, cropped to the hand
    assert view.width * view.height < image.width * image.height
    assert (np.asarray(view) == (255, 60, 60)).all(-1).sum() > 21  # the red landmark dots are there


def test_a_photo_without_a_hand_says_no_hand_found_and_lets_go_in_the_spell_tab(landmarks_slot, tmp_path):
    app = load_space_app()
    grey = grey_photo(tmp_path)
    label, latency_ms, view, _, message = app.predict_all([landmarks_slot], {"path": str(grey)})
    assert label == app.NO_HAND == "No hand found" and view is None and latency_ms > 0
    assert message == "Classified a 200×200 image. Hand landmarks: No hand found in this photo, so it names no letter."
    seen = app.top_label(landmarks_slot, Image.open(grey))
    assert seen == (None, 0.0)
    machine = app.SpellingMachine()
    machine.feed([("L", 0.9, t / 10) for t in range(9)] + [(*seen, 1 + t / 10) for t in range(3)])
    assert machine.text == "L" and machine.held is None  # three frames without a hand: let go
    assert app.held_markdown(machine, seen) == "Hold a sign steady for 0.8 s to type it.  \nNo hand found in this frame."


def test_the_spell_tab_tracks_the_hand_per_session_and_releases_the_tracker(landmarks_slot, tmp_path):
    """A session's webcam frames go through one stream (the landmark model's hand tracker), made on the first frame
    and kept in the session's state; Clear and a model switch close it; a video gets a stream of its own."""
    from tests.spelling_helpers import write_video

    app = load_space_app()
    other = app.ModelSlot(name="Other landmarks", source=landmarks_slot.source, classifier=landmarks_slot.classifier)
    models, grey = [landmarks_slot, other], Image.open(grey_photo(tmp_path))
    text, held, machine, live = app.spell_frame(models, grey, "Hand landmarks", 0.8, 0.5, None, None)
    assert isinstance(live, app.LiveStream) and live.model_name == "Hand landmarks" and live.stream.tracker.started
    assert held.endswith("No hand found in this frame.")
    assert app.spell_frame(models, grey, "Hand landmarks", 0.8, 0.5, machine, live)[3] is live  # the same stream goes on
    switched = app.spell_frame(models, grey, "Other landmarks", 0.8, 0.5, machine, live)[3]
    assert switched is not live and switched.model_name == "Other landmarks" and live.stream.tracker._closed
    assert app.clear_spelling(machine, switched)[3] is None and switched.stream.tracker._closed
    app.release_stream(None)  # nothing to release: fine

    streams = []
    def recording_stream(original=landmarks_slot.classifier.stream, **options):
        streams.append(original(**options))
        return streams[-1]

    landmarks_slot.classifier.stream = recording_stream
    try:
        video = write_video(tmp_path / "grey.mp4", [grey.resize((64, 64))] * 5, fps=10)
        text, summary, _ = app.spell_video(models, {"path": str(video), "orig_name": "grey.mp4"}, "Hand landmarks", 0.8, 0.5)
    finally:
        del landmarks_slot.classifier.stream
    assert summary.startswith("Spelled 5 frames") and text == ""
    assert len(streams) == 1 and streams[0].tracker._closed  # its own stream, closed when the video is read


def test_the_session_stream_state_expires_after_the_last_frame_and_closes(landmarks_slot):
    import gradio as gr

    app = load_space_app()
    demo = app.build_demo([landmarks_slot])
    expiring = [block for block in demo.blocks.values() if isinstance(block, gr.State) and block.time_to_live != float("inf")]
    assert [block.time_to_live for block in expiring] == [app.SPELL_STREAM_IDLE_S] * 2  # the Spell and Your hand webcams
    assert sum(block.delete_callback is app.release_stream for block in expiring) == 1  # Spell's: it has a hand tracker


def test_only_the_landmark_model_shows_what_it_looked_at(landmarks_slot):
    app = load_space_app()
    missing = app.ModelSlot(name="Custom CNN", source="nowhere", error="nowhere: no such model folder")
    demo = app.build_demo([missing, landmarks_slot])
    views = {block.elem_id: block.visible for block in demo.blocks.values() if str(block.elem_id).startswith("view-")}
    assert views == {"view-0": False, "view-1": True}


@pytest.mark.slow
def test_api_landmark_model_shows_the_hand_or_says_no_hand_found(space, client, tmp_path):
    from gradio_client import handle_file

    from asl_hf.models.asl_landmarks import AslLandmarksImageProcessor

    needs_mediapipe()
    photo = hand_photo()
    results, message = by_model(predict(client, photo))
    label, latency_ms, view = results["Hand landmarks"]
    assert len(label["confidences"]) == 5 and latency_ms > 0 and "No hand found" not in message, message
    image = load_space_app().prepare_image(Image.open(photo))
    box = AslLandmarksImageProcessor().detect(image).box(0.25)
    with Image.open(view) as drawn:  # the client downloads the drawn crop as a file
        assert drawn.size == (box[2] - box[0], box[3] - box[1])

    grey = grey_photo(tmp_path)
    results, message = by_model(predict(client, grey))
    label, latency_ms, view = results["Hand landmarks"]
    assert label["label"] == "No hand found" and not label.get("confidences") and view is None, label
    assert "Hand landmarks: No hand found in this photo" in message and results["Custom CNN"][0]["confidences"][0]["label"] in CLASS_NAMES
    text, held = client.predict(handle_file(str(grey)), "Hand landmarks", 0.5, 0.0, api_name="/spell")
    assert text == "" and held.endswith("No hand found in this frame."), held


# --- Default model ------------------------------------------------------------------------------------------------
class _StubClassifier:
    """Enough of an ImageClassifier for building the page (the ranking reads the folders, not the model)."""

    detects_hands = False
    runtime_note = "PyTorch"


def test_default_model_and_columns_follow_the_model_folders_reports(tmp_path):
    import gradio as gr

    from asl_hf.inference.reports import reported_scores

    app = load_space_app()
    slots = []
    for name, test_accuracy, other_signers in (("Custom CNN", 0.95, 0.07), ("Hand landmarks", 0.90, 0.41)):
        folder = tmp_path / name.replace(" ", "_")
        (folder / "eval_other_signers_dev").mkdir(parents=True)
        (folder / "eval_results.json").write_text(json.dumps({"test_accuracy": test_accuracy}))
        (folder / "eval_other_signers_dev" / "evaluation_report.json").write_text(json.dumps(
            {"data": "../shared/data/other_signers_dev", "split_name": "other_signers_dev", "accuracy": other_signers}))
        slots.append(app.ModelSlot(name=name, source=str(folder), classifier=_StubClassifier(), scores=reported_scores(folder)))
    ranked, ranked_by = app.best_first(slots)
    assert ranked == ["Hand landmarks", "Custom CNN"] and ranked_by.startswith("accuracy on other_signers_dev")
    assert app.model_info(slots[1]) == ("**Hand landmarks** (local folder `Hand_landmarks`): test accuracy 90.0%; "
                                        "accuracy 41.0% on `other_signers_dev`  \nRuns on PyTorch.")
    demo = app.build_demo(slots)
    assert f"Models best first by {ranked_by}." in json.dumps(demo.config, default=str)
    labels = {block.elem_id: block._id for block in demo.blocks.values() if isinstance(block, gr.Label)}
    assert labels["label-1"] < labels["label-0"]  # the landmark column comes first; the API order stays CNN first
    (dropdown,) = [block for block in demo.blocks.values() if isinstance(block, gr.Dropdown)]
    assert dropdown.value == "Hand landmarks" and dropdown.info == f"best first by {ranked_by}"


# --- Example photos ----------------------------------------------------------------------------------------------
def example_datasets(demo) -> list:
    """The ``gr.Dataset`` components ``gr.Examples`` adds to a Blocks app."""
    import gradio as gr

    return [block for block in demo.blocks.values() if isinstance(block, gr.Dataset)]


def test_examples_come_from_asl_examples_dir_with_the_class_as_caption(tmp_path, monkeypatch):
    app = load_space_app()
    monkeypatch.setattr(app, "EXAMPLES_DIR", tmp_path / "no_examples_beside_app")
    monkeypatch.delenv(app.EXAMPLES_ENV, raising=False)
    assert app.examples_folder() is None and app.find_examples(None) == []
    demo = app.build_demo([], app.find_examples(app.examples_folder()))
    assert example_datasets(demo) == [] and app.EXAMPLES_NOTE.strip() not in json.dumps(demo.config, default=str)

    photos = tmp_path / "photos"
    photos.mkdir()
    render_example(0, 1, 48).save(photos / "A_x.jpg")
    render_example(27, 1, 48).save(photos / "nothing_y.jpg")
    (photos / "notes.txt").write_text("not a photo")
    render_example(1, 1, 48).save(photos / ".hidden.jpg")
    monkeypatch.setenv(app.EXAMPLES_ENV, str(photos))
    examples = app.find_examples(app.examples_folder())
    assert examples == [(str(photos / "A_x.jpg"), "A"), (str(photos / "nothing_y.jpg"), "nothing")]
    demo = app.build_demo([], examples)
    (dataset,) = example_datasets(demo)
    assert dataset.label == "Example photos (A, nothing): click one" and len(dataset.samples) == 2
    assert app.EXAMPLES_NOTE.strip() in json.dumps(demo.config, default=str)

    monkeypatch.setenv(app.EXAMPLES_ENV, str(tmp_path / "missing"))  # a wrong folder: no examples, no crash
    assert app.find_examples(app.examples_folder()) == []
    monkeypatch.delenv(app.EXAMPLES_ENV)
    monkeypatch.setattr(app, "EXAMPLES_DIR", photos)  # the pushed Space: examples/ beside app.py
    assert app.find_examples(app.examples_folder()) == examples
    assert [app.example_caption(name) for name in ("B_B1505.jpg", "space_space45.jpg", "del7.jpg", "L.png")] == [
        "B", "space", "del", "L"]


def test_readme_states_the_example_photos_source_and_license():
    from asl_hf.hub import SPACE_EXAMPLE_CLASSES

    text = " ".join((SPACE_DIR / "README.md").read_text().split())
    assert f"the {len(SPACE_EXAMPLE_CLASSES)} examples" in text and "doi:[10.34740/KAGGLE/DSV/29550]" in text
    assert "Akash Nagaraj" in text and "**GPL-2.0**" in text and "not stored in the code repository" in text
    assert not (SPACE_DIR / "examples").exists() or not subprocess.run(
        ["git", "ls-files", "space/examples"], cwd=REPO_ROOT, capture_output=True, text=True).stdout  # never committed


# --- Spell tab ---------------------------------------------------------------------------------------------------
def letter_images(classifier, count: int) -> list[tuple[Image.Image, str]]:
    """Drawn images that the (barely trained) CNN labels as ``count`` different letters A-Z: with the threshold at 0,
    its top label is all the spelling machine looks at, so these type a known text."""
    found, seen = [], set()
    for index in range(200):
        image = render_example(index % len(CLASS_NAMES), 1 + index // len(CLASS_NAMES), 64)
        label = classifier.predict([image], top_k=1)[0][0][0]
        if len(label) == 1 and label not in seen:
            found.append((image, label))
            seen.add(label)
            if len(found) == count:
                return found
    pytest.skip(f"the small CNN names fewer than {count} different letters on the drawn images")


def spell_call(client, path, threshold: float, hold_seconds: float = 0.5):
    from gradio_client import handle_file

    return client.predict(handle_file(str(path)), "Custom CNN", hold_seconds, threshold, api_name="/spell")


@pytest.mark.slow
def test_spell_api_types_a_held_letter_once_and_again_after_a_release(space, small_models, tmp_path):
    """One frame per call, as the webcam stream sends them; each Client is its own session (its own machine)."""
    from gradio_client import Client

    from asl_hf.inference import load_classifier

    (image, letter), = letter_images(load_classifier(small_models["cnn"]), 1)
    path = tmp_path / "letter.png"
    image.save(path)
    client = Client(space.url, verbose=False)

    def hold_until_typed(expected: str) -> None:
        for _ in range(60):
            text, held = spell_call(client, path, threshold=0.0)
            if text == expected:
                assert f"**{letter}** typed" in held, held
                return
            assert text == expected[:-1] and (f"Holding **{letter}**" in held or "typed" in held), (text, held)
        pytest.fail(f"{letter!r} was never typed")

    hold_until_typed(letter)
    for _ in range(2):  # held on: not typed again
        assert spell_call(client, path, threshold=0.0)[0] == letter
    for _ in range(3):  # threshold 1: no frame is sure enough, three in a row let go
        text, held = spell_call(client, path, threshold=1.0)
    assert text == letter and held.startswith("Hold a sign steady")
    hold_until_typed(letter * 2)
    assert Client(space.url, verbose=False).predict(api_name="/clear_spelling")[0] == ""  # another session: nothing typed
    text, held = client.predict(api_name="/clear_spelling")
    assert text == "" and held.startswith("Hold a sign steady")
    assert spell_call(client, path, threshold=0.0)[0] == ""  # the old hold is gone with the text


@pytest.mark.slow
def test_spell_video_api_types_what_the_package_types(space, client, small_models, tmp_path):
    from gradio_client import handle_file

    from asl_hf.spelling.frames import open_frames
    from asl_hf.inference import load_classifier
    from asl_hf.spelling.spell_frames import spell_frames
    from asl_hf.spelling import SpellingSettings
    from tests.spelling_helpers import write_video

    classifier = load_classifier(small_models["cnn"])
    letters = letter_images(classifier, 3)
    video = write_video(tmp_path / "three letters.mp4", [image for image, _ in letters for _ in range(8)], fps=10)
    settings = SpellingSettings(hold_seconds=0.5, threshold=0.0)
    expected = spell_frames(classifier, open_frames(video).frames, settings, show_progress=False)
    # Compression may move a barely trained model's top label; whatever the package types, the Space must type too.
    assert expected.keystrokes, [p.label for p in expected.predictions]
    text, summary = client.predict(handle_file(str(video)), "Custom CNN", 0.5, 0.0, api_name="/spell_video")
    assert text == expected.text
    assert summary == f"Spelled 24 frames (2.4 s) of three letters.mp4 with Custom CNN: {len(expected.keystrokes)} keystrokes."

    (tmp_path / "notes.mp4").write_text("not a video")
    text, summary = client.predict(handle_file(str(tmp_path / "notes.mp4")), "Custom CNN", 0.5, 0.0, api_name="/spell_video")
    assert text == "" and summary == "⚠️ notes.mp4: not a readable video or folder of frame images (Invalid data found when processing input)"
    assert client.predict(None, "Custom CNN", 0.5, 0.0, api_name="/spell_video") == ("", "⚠️ No video: upload one first.")
    text, summary = client.predict(handle_file(str(video)), "MobileNetV2", 0.5, 0.0, api_name="/spell_video")
    assert summary.startswith("Spelled 24 frames") and "with MobileNetV2" in summary


def test_an_unsure_model_says_so_with_its_two_best_guesses():
    app = load_space_app()
    assert app.verdict({"L": 0.9, "T": 0.05}) == "## L"
    assert app.verdict({"T": 0.45, "L": 0.40, "A": 0.1}) == "⚠️ **Unsure**: **T** (45%) or **L** (40%)?"
    assert app.verdict(None) == "**No hand found**"


def test_spell_helpers_show_the_held_sign():
    app = load_space_app()
    machine = app.SpellingMachine()
    assert app.held_markdown(machine) == "Hold a sign steady for 0.8 s to type it."
    machine.feed([("L", 0.9, t / 10) for t in range(5)])
    assert app.held_markdown(machine, ("L", 0.9)) == "Holding **L** ▰▰▰▰▰▱▱▱▱▱ 50%  \nThe model sees *L* (90%)."
    machine.feed([("L", 0.9, t / 10) for t in range(5, 9)])
    assert app.held_markdown(machine).startswith("**L** typed. Let go")
    assert app.spelling_settings(1.5, 0.7) == app.SpellingSettings(hold_seconds=1.5, threshold=0.7)
    assert app.spelling_settings(None, 7) == app.SpellingSettings()  # out of range: the defaults


@pytest.mark.slow
def test_the_pushed_space_runs_on_its_requirements_alone(tmp_path):
    """What scripts/push_to_hub.py uploads (app.py, the asl_hf package beside it, example photos) runs where nothing but
    its requirements.txt (and Gradio, from the README's sdk_version) is installed: it imports the shipped package, loads
    a landmark model (MediaPipe included), says No hand found, spells and finds its examples/."""
    import gradio

    from asl_hf.hub import SPACE_EXAMPLE_CLASSES, stage_space_folder

    needs_mediapipe()
    raw = tmp_path / "raw"
    for index, name in enumerate(SPACE_EXAMPLE_CLASSES):  # generated stand-ins for the real photos
        (raw / name).mkdir(parents=True)
        for frame in (5, 10, 15):
            render_example(index, frame, 32).save(raw / name / f"{name}{frame}.jpg")
    staged = tmp_path / "space"
    staged_files = stage_space_folder(SPACE_DIR, staged, examples_dir=raw)
    assert "asl_hf/inference/classifier.py" in staged_files and "examples/A_A10.jpg" in staged_files
    assert "asl_hf/inference/handshapes.py" in staged_files and "asl_hf/inference/calibration.py" in staged_files
    site = tmp_path / "site"
    installed = requirements_site(staged / "requirements.txt", site, extra=(f"gradio=={gradio.__version__}",))
    assert not {"datasets", "accelerate", "evaluate", "scikit-learn", "pytest"} & set(installed), installed
    folder, grey = make_landmarks_model(tmp_path), grey_photo(tmp_path)
    script = tmp_path / "check_space.py"
    script.write_text(textwrap.dedent(
        f"""
        import importlib.util, sys
        sys.path.insert(0, {str(staged)!r})
        import app, asl_hf
        assert asl_hf.__file__.startswith({str(staged)!r}), asl_hf.__file__
        for name in ("datasets", "accelerate", "evaluate", "sklearn"):
            assert importlib.util.find_spec(name) is None, name
        import onnxruntime  # the pixel models' model.onnx runs there
        from asl_hf.inference.hands import default_backend
        assert default_backend() == "litert"  # webcam and Spell frames: hands tracked on LiteRT
        slot = app.load_slot("Hand landmarks", {str(folder)!r})
        assert slot.ready and slot.looks_for_hands, slot.error
        label, latency_ms, view, _, message = app.predict_all([slot], {{"path": {str(grey)!r}}})
        assert label == "No hand found" and view is None, (label, message)
        from PIL import Image
        prompt, note, calibration, position = app.take_photo([slot], Image.open({str(grey)!r}), 3, 0, None)
        assert prompt.startswith("### Letter 1 of 26: A") and note == app.HAND_WORDS["no_hand"] and calibration is None
        machine = app.SpellingMachine()
        machine.feed([("H", 0.9, t / 10) for t in range(10)] + [("I", 0.9, 1 + t / 10) for t in range(10)])
        assert machine.text == "HI", machine.text
        examples = app.find_examples(app.examples_folder())
        assert [caption for _, caption in examples] == {sorted(SPACE_EXAMPLE_CLASSES)!r}, examples
        demo = app.build_demo([slot], examples)
        print("ok", type(demo).__name__)
        """))
    result = subprocess.run([*isolated_python(site), str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                            env=isolated_env({"HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "HOME": str(tmp_path)}))
    assert result.returncode == 0 and result.stdout.strip().endswith("ok Blocks"), result.stdout + result.stderr[-3000:]
