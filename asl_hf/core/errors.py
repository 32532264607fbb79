"""User-facing errors: command lines print them as one line (``error: ...``) and exit with code 2."""


class AslError(Exception):
    """Base class for errors caused by the user's input or environment, not by a bug."""


class DataError(AslError):
    """The raw image folder or a prepared data set is unusable (names the file and the problem)."""


class OutputExistsError(AslError):
    """An output folder already holds results and would be overwritten."""


class HubError(AslError):
    """Talking to the Hugging Face Hub failed (no token, unreachable, refused)."""


class ImageFileError(AslError, ValueError):
    """A file given as a photo cannot be used: not an image, damaged, or too large (names the file)."""
