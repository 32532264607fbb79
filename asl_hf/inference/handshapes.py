"""What to sign for each letter when capturing a calibration (:mod:`asl_hf.inference.calibration`): the standard ASL
handshapes of A–Z in words, in the order a guided capture asks for them (the Space's *Your hand* tab)."""

from __future__ import annotations

HANDSHAPES: dict[str, str] = {
    "A": "a fist, thumb resting against the side of the index finger",
    "B": "flat hand, four fingers up and together, thumb folded across the palm",
    "C": "fingers and thumb curved into the letter C",
    "D": "index finger up; the other fingertips touch the thumb in a ring below it",
    "E": "fingertips bent down to touch the thumb, which is folded across the palm",
    "F": "thumb and index fingertips touch in a circle; the other three fingers up and apart",
    "G": "index finger and thumb point sideways, parallel; the other fingers closed",
    "H": "index and middle fingers point sideways together; the other fingers closed",
    "I": "little finger up; the other fingers in a fist, thumb across them",
    "J": "the I hand, little finger drawing a J (hold the end of the movement)",
    "K": "index up, middle finger angled forward, thumb between them",
    "L": "thumb and index finger make an L; the other fingers closed",
    "M": "thumb tucked under the index, middle and ring fingers",
    "N": "thumb tucked under the index and middle fingers",
    "O": "all fingertips touch the thumb in an O",
    "P": "the K hand pointing down",
    "Q": "the G hand pointing down",
    "R": "index and middle fingers crossed; the other fingers closed",
    "S": "a fist, thumb across the front of the fingers",
    "T": "a fist, thumb tucked between the index and middle fingers",
    "U": "index and middle fingers up together",
    "V": "index and middle fingers up and apart",
    "W": "index, middle and ring fingers up and apart",
    "X": "index finger bent into a hook; the other fingers closed",
    "Y": "thumb and little finger out; the other fingers closed",
    "Z": "index finger drawing a Z (hold a moment of the movement)",
}
"""What to sign for each letter in the guided capture (standard ASL handshapes)."""

CAPTURE_LETTERS: tuple[str, ...] = tuple(HANDSHAPES)
"""The letters a guided capture asks for, in order (A–Z: a calibration needs only letters)."""

__all__ = ["CAPTURE_LETTERS", "HANDSHAPES"]
