"""Names shared by every part of the project: the 29 classes of the ASL Alphabet data set."""

CLASS_NAMES: list[str] = [chr(c) for c in range(ord("A"), ord("Z") + 1)] + ["del", "nothing", "space"]
"""Class folder names, in the order of the public "ASL Alphabet" data set (label id = index)."""

NUM_CLASSES = len(CLASS_NAMES)

ID2LABEL: dict[int, str] = dict(enumerate(CLASS_NAMES))
LABEL2ID: dict[str, int] = {name: i for i, name in enumerate(CLASS_NAMES)}

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})
"""File suffixes (lower case) that are read as images; anything else in a class folder is reported."""

MOTION_CLASSES = ("J", "Z")
"""Letters signed with motion in ASL: a single still photo only shows their end pose."""
