"""Skip markers shared by the test files: tests that need an optional install skip with a reason without it."""

import pytest

from asl_hf.models.asl_landmarks import mediapipe_available

needs_mediapipe = pytest.mark.skipif(not mediapipe_available(),
                                     reason='MediaPipe 0.10.14 is not installed (pip install -e ".[hands]")')
"""For tests that run MediaPipe Hands (the hand-landmark model's image processor)."""


def _litert_available() -> bool:
    from asl_hf.inference.litert_hands import available

    return available()


needs_litert = pytest.mark.skipif(not _litert_available(),
                                  reason='LiteRT or MediaPipe is not installed (pip install -e ".[hands]")')
"""For tests that run MediaPipe's hand models on LiteRT (the video tracker's fast path)."""
