"""The Space in a real browser: headless Chromium opens the page, uploads a photo, and each column shows what its model
itself answers for that file (a flat grey photo, so the hand-landmark model's answer is certainly "No hand found");
then the live tab classifies Chromium's fake webcam stream.

Needs Debian's ``chromium`` + ``chromium-driver`` (scripts/test.sh installs them where it can) and ``selenium``;
without them the test is skipped with the reason. Screenshots go to ``test-artifacts/space_browser*.png``.
"""

from __future__ import annotations

import shutil
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from asl_hf.data.synthetic import render_example
from asl_hf.models.asl_landmarks import mediapipe_available
from tests.test_space import REPO_ROOT, free_port, load_space_app, make_small_models

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = REPO_ROOT / "test-artifacts"
PAGE_TIMEOUT_S = 90


def chromium_driver(user_data_dir: Path):
    """Headless Chromium that never reaches out to the network on its own (offline CI)."""
    if not CHROMIUM or not CHROMEDRIVER:
        pytest.skip("Chromium and chromedriver are not installed (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",  # a synthetic webcam
                 "--window-size=1400,1000", f"--user-data-dir={user_data_dir}"):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)  # explicit path: no Selenium Manager download
    return webdriver.Chrome(options=options, service=service)


@pytest.mark.slow
def test_upload_and_live_webcam_in_the_browser_show_the_labels(tmp_path, monkeypatch):
    driver = chromium_driver(tmp_path / "chromium-profile")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    from asl_hf.inference import load_classifier

    models = make_small_models(tmp_path / "models")
    monkeypatch.setenv("ASL_CNN_MODEL", str(models["cnn"]))
    monkeypatch.setenv("ASL_MOBILENET_MODEL", str(models["mobilenetv2"]))
    monkeypatch.setenv("ASL_LANDMARKS_MODEL", str(models["landmarks"]))
    app = load_space_app()
    examples = []
    for index, caption in ((0, "A"), (27, "nothing")):  # generated stand-ins for the real photos a push adds
        path = tmp_path / f"{caption}_example.jpg"
        render_example(index, 0, 200).save(path)
        examples.append((str(path), caption))
    demo = app.build_demo(app.load_models(), examples=examples)
    demo.queue()
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, theme="soft", css=app.CSS)
    photo = tmp_path / "grey.png"  # lossless and flat: nothing a hand detector could take for a hand, on any machine
    Image.new("RGB", (200, 200), (128, 128, 128)).save(photo)
    expected = {name: load_classifier(models[name]).predict([Image.open(photo)], top_k=1)[0][0][0]  # what each model says
                for name in ("cnn", "mobilenetv2")}
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=10).close()
        driver.get(f"http://127.0.0.1:{port}/")
        wait = WebDriverWait(driver, PAGE_TIMEOUT_S)
        file_input = wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "#image-input input[type=file]")))
        file_input.send_keys(str(photo))
        wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "status"), "Classified a 200×200 image"))
        labels = [driver.find_element(By.ID, f"label-{i}").text for i in range(2)]
        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "space_browser.png"))
        assert "Custom CNN" in labels[0] and expected["cnn"] in labels[0].splitlines(), labels[0]
        assert "MobileNetV2" in labels[1] and expected["mobilenetv2"] in labels[1].splitlines(), labels[1]
        assert "%" in labels[0] and "%" in labels[1]  # the confidence bars are rendered
        verdict = driver.find_element(By.ID, "verdict-0").text  # the headline: the letter, or "Unsure" with two guesses
        assert verdict == expected["cnn"] or (verdict.startswith("⚠️ Unsure: ") and expected["cnn"] in verdict), verdict
        if mediapipe_available():  # without it the page reports the landmark model as not loaded
            landmarks = load_classifier(models["landmarks"]).predict_with_hands([Image.open(photo)], top_k=1)[0]
            assert landmarks.hand_found is False  # a flat grey photo: the certain answer
            assert "No hand found" in driver.find_element(By.ID, "label-2").text
        page = driver.find_element(By.TAG_NAME, "body").text
        assert "Example photos (A, nothing)" in page and "ASL fingerspelling recognition" in page

        # Live mode: Chromium's fake camera streams frames; the same results update from the webcam tab.
        driver.find_element(By.XPATH, "//button[@role='tab'][contains(., 'Live webcam')]").click()
        wait.until(expected_conditions.element_to_be_clickable((By.XPATH, "//button[contains(., 'Access Webcam')]"))).click()
        wait.until(expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, "button[aria-label='capture photo']"))).click()
        wait.until(lambda d: d.find_element(By.ID, "status").text.startswith("Classified a ")
                   and "200×200" not in d.find_element(By.ID, "status").text)
        driver.save_screenshot(str(ARTIFACTS / "space_browser_live.png"))
        assert "%" in driver.find_element(By.ID, "label-0").text and "%" in driver.find_element(By.ID, "label-1").text
    finally:
        driver.quit()
        demo.close()


@pytest.mark.slow
def test_the_your_hand_tab_asks_letter_by_letter_and_downloads_in_the_browser(tmp_path):
    """The Your hand tab shows A and its handshape, Skip asks for B; an uploaded calibration calibrates the session (the
    Classify tab says so) and Download hands back its file from the browser (the page's JavaScript, no server file);
    the automatic capture's webcam stream reaches the server (it asks to get ready for B)."""
    import base64

    import numpy as np

    from asl_hf.inference import Calibration
    from asl_hf.inference.handshapes import HANDSHAPES
    from tests.test_space import make_landmarks_model
    from tests.test_space_your_hand import calibration_of

    if not mediapipe_available():
        pytest.skip('the hand-landmark model needs MediaPipe (pip install "mediapipe==0.10.14")')
    driver = chromium_driver(tmp_path / "chromium-profile")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    app = load_space_app()
    slot = app.load_slot("Hand landmarks", str(make_landmarks_model(tmp_path / "models")))
    calibration = calibration_of(slot, {"A": 0, "B": 1})
    path = calibration.save(tmp_path / "my-hand.safetensors")
    demo = app.build_demo([slot])
    demo.queue()
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, theme="soft", css=app.CSS)
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=10).close()
        driver.get(f"http://127.0.0.1:{port}/")
        wait = WebDriverWait(driver, PAGE_TIMEOUT_S)
        wait.until(expected_conditions.element_to_be_clickable((By.XPATH, "//button[@role='tab'][contains(., 'Your hand')]"))).click()
        prompt = (By.ID, "hand-prompt")
        wait.until(expected_conditions.text_to_be_present_in_element(prompt, f"Letter 1 of 26: A — {HANDSHAPES['A']}"))
        driver.find_element(By.ID, "hand-skip").click()
        wait.until(expected_conditions.text_to_be_present_in_element(prompt, f"Letter 2 of 26: B — {HANDSHAPES['B']}"))
        assert "Skipped A." in driver.find_element(By.ID, "hand-note").text

        driver.find_element(By.CSS_SELECTOR, "#hand-upload input[type=file]").send_keys(str(path))
        wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "hand-note"), "Loaded a calibration of 2 photos"))
        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "space_browser_your_hand.png"))
        # Record the download instead of saving it: the link's file name and the bytes its blob URL holds.
        driver.execute_script("window.downloads = []; HTMLAnchorElement.prototype.click = function () {"
                              " window.downloads.push([this.download, this.href]); };")
        driver.find_element(By.ID, "hand-download").click()
        wait.until(lambda d: d.execute_script("return window.downloads.length") == 1)
        name, href = driver.execute_script("return window.downloads[0]")
        data = driver.execute_async_script(
            "const done = arguments[1]; fetch(arguments[0]).then((r) => r.arrayBuffer()).then((buffer) => {"
            " let text = ''; new Uint8Array(buffer).forEach((b) => { text += String.fromCharCode(b); }); done(btoa(text)); });", href)
        downloaded = Calibration.from_bytes(base64.b64decode(data))
        assert name == "my-hand.safetensors" and href.startswith("blob:")
        assert downloaded.labels == ["A", "B"] and np.array_equal(downloaded.landmarks, calibration.landmarks)

        driver.find_element(By.XPATH, "//button[@role='tab'][contains(., 'Classify a sign')]").click()
        wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "calibration-note"),
                                                                    "Hand landmarks: calibrated to your hand (2 letters)."))

        # The automatic capture: Chromium's fake camera streams to the Your hand tab's webcam, whose first frames are
        # ignored while the person gets ready (what MediaPipe makes of the fake picture afterwards is not asserted).
        driver.find_element(By.XPATH, "//button[@role='tab'][contains(., 'Your hand')]").click()
        wait.until(expected_conditions.element_to_be_clickable(
            (By.XPATH, "//*[@id='hand-webcam']//button[contains(., 'Access Webcam')]"))).click()
        wait.until(expected_conditions.element_to_be_clickable(
            (By.CSS_SELECTOR, "#hand-webcam button[aria-label='capture photo']"))).click()
        wait.until(expected_conditions.text_to_be_present_in_element((By.ID, "hand-note"), "Now show B and hold it"))
        driver.save_screenshot(str(ARTIFACTS / "space_browser_your_hand_auto.png"))
    finally:
        driver.quit()
        demo.close()
