"""Fingerspelling: the state machine that types (pure Python), frames from videos and folders, spelling with a
model, and how many words a model types right."""

from .machine import (
    DELETE_LABEL,
    NOTHING_LABEL,
    SPACE_LABEL,
    HeldSign,
    Keystroke,
    SpellingMachine,
    SpellingSettings,
    hold_seconds_from_frames,
    spell,
)

__all__ = [
    "DELETE_LABEL", "HeldSign", "Keystroke", "NOTHING_LABEL", "SPACE_LABEL", "SpellingMachine", "SpellingSettings",
    "hold_seconds_from_frames", "spell",
]
