"""Frames to spell from: a folder of frame images, or a video sampled at a fixed rate, each frame with its time.

Both give the same thing, ``Frame(image, time, name)`` at ``fps`` frames per second, so spelling does not care
where the frames came from. Frames are yielded one at a time: a long video never sits in memory.

- A folder: its image files (by suffix; hidden files, other files and sub-folders are ignored) in natural
  file-name order, so ``frame2.jpg`` comes before ``frame10.jpg``; frame ``i`` is at ``i / fps`` seconds.
- A video (decoded with PyAV): the frame on screen at each time ``k / fps`` after the first frame, found from the
  stream's own timestamps. A video recorded at 30 fps gives every third frame; one at 5 fps gives each frame
  twice. Holding a sign for one second therefore always gives ``fps`` frames, whatever the video's rate.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..core.constants import IMAGE_EXTENSIONS
from ..core.errors import AslError
from ..core.images import to_rgb

DEFAULT_FPS = 10.0
TIME_TOLERANCE = 1e-4
"""Seconds: stream timestamps are rationals; a sample time that matches a frame's time must pick that frame."""
VIDEO_IMAGE_SUFFIXES = frozenset({".gif"})
"""Image suffixes that may hold several frames and are read as videos (an animated GIF)."""


class FrameInputError(AslError):
    """The input is not a readable video or folder of frame images (names the file and the problem)."""


@dataclass(frozen=True)
class Frame:
    """One frame to classify: the upright RGB image, its time in seconds from the first frame, where it came from."""

    image: Image.Image
    time: float
    name: str


@dataclass
class FrameSource:
    """Frames from one input, plus what a progress bar needs before reading them all."""

    path: str
    kind: str
    """``"folder"`` or ``"video"``."""
    expected_frames: int | None
    """Exact for a folder, estimated from the duration for a video (``None`` when the video does not say)."""
    frames: Iterator[Frame]


def natural_key(name: str) -> list:
    """Sort key that orders digit runs by value: ``frame2`` < ``frame10`` (a plain sort puts 10 first)."""
    return [(0, int(part), part) if part.isdigit() else (1, 0, part.lower()) for part in re.split(r"(\d+)", name)]


def open_frames(path: str | os.PathLike, fps: float = DEFAULT_FPS, display_name: str | None = None) -> FrameSource:
    """The frames of a folder or a video at ``fps``; anything else is a one-line :class:`FrameInputError`.
    ``display_name`` replaces the path in error messages (an upload's own name instead of a server's temporary path)."""
    if not fps > 0:
        raise FrameInputError(f"fps must be positive, got {fps!r}")
    try:
        source = _open(Path(path), fps)
    except FrameInputError as error:
        raise _renamed(error, str(path), display_name) from None
    if display_name:
        source.frames = _renaming(source.frames, str(path), display_name)
    return source


def _open(path: Path, fps: float) -> FrameSource:
    if path.is_dir():
        files = folder_frame_files(path)
        return FrameSource(str(path), "folder", len(files), _folder_frames(files, fps))
    if not path.exists():
        raise FrameInputError(f"{path}: no such file or folder")
    if path.suffix.lower() in IMAGE_EXTENSIONS - VIDEO_IMAGE_SUFFIXES:
        raise FrameInputError(f"{path}: a single image cannot spell a word; give a video or a folder of frame images")
    container, stream = _open_video(path)
    return FrameSource(str(path), "video", _estimated_frames(stream, container, fps), _video_frames(path, container, stream, fps))


def _renamed(error: FrameInputError, path: str, display_name: str | None) -> FrameInputError:
    return FrameInputError(str(error).replace(path, display_name)) if display_name else error


def _renaming(frames: Iterator[Frame], path: str, display_name: str) -> Iterator[Frame]:
    """The frames, with errors raised while decoding them naming ``display_name``."""
    try:
        yield from frames
    except FrameInputError as error:
        raise _renamed(error, path, display_name) from None


# --- Folders ----------------------------------------------------------------------------------------------------
def folder_frame_files(folder: Path) -> list[Path]:
    """The image files of ``folder`` in natural name order; an error when it holds none."""
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS]
    if not files:
        suffixes = ", ".join(sorted(IMAGE_EXTENSIONS))
        raise FrameInputError(f"{folder}: no frame images in this folder (looked for {suffixes})")
    return sorted(files, key=lambda p: natural_key(p.name))


def _read_image(path: Path) -> Image.Image:
    """One decoded, upright RGB frame; a bad file stops the run (a missing frame would shift every later time)."""
    try:
        with Image.open(path) as image:
            return to_rgb(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise FrameInputError(f"{path}: not a readable image ({detail})") from None


def _folder_frames(files: list[Path], fps: float) -> Iterator[Frame]:
    for index, path in enumerate(files):
        yield Frame(_read_image(path), index / fps, path.name)


# --- Videos -----------------------------------------------------------------------------------------------------
def _video_error(path: Path, error: BaseException) -> FrameInputError:
    """PyAV's ``strerror`` ("Invalid data found when processing input") without its repeat of the path."""
    detail = getattr(error, "strerror", None) or (str(error).strip().splitlines() or [type(error).__name__])[0]
    return FrameInputError(f"{path}: not a readable video or folder of frame images ({detail})")


def _open_video(path: Path):
    """Open the container and its first video stream, or fail with the file's name and why."""
    import av

    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError) as error:
        raise _video_error(path, error) from None
    if not container.streams.video:
        container.close()
        raise FrameInputError(f"{path}: the file has no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"  # decode with frame threads: the decoder, not the model, is often the slow part
    return container, stream


def _estimated_frames(stream, container, fps: float) -> int | None:
    """How many frames sampling will give, from the stream's (else the container's) duration."""
    import av

    if stream.duration is not None and stream.time_base is not None:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        seconds = container.duration / av.time_base
    else:
        return None
    return max(1, round(seconds * fps))


def _frame_duration(stream) -> float:
    """One frame's display time, to know how long the last frame stays on screen (0 when unknown)."""
    rate = stream.average_rate or stream.guessed_rate
    return float(1 / rate) if rate else 0.0


def _video_frames(path: Path, container, stream, fps: float) -> Iterator[Frame]:
    """Sample times ``k / fps`` from the first frame; each takes the last decoded frame shown at that time."""
    import av

    first_time, shown, shown_time, sample = None, None, 0.0, 0
    try:
        with container:
            for index, frame in enumerate(container.decode(stream)):
                time = frame.time if frame.time is not None else index * _frame_duration(stream)
                first_time = time if first_time is None else first_time
                time -= first_time
                while shown is not None and sample / fps < time - TIME_TOLERANCE:
                    yield Frame(shown.to_image(), sample / fps, f"{path.name}@{sample / fps:.2f}s")
                    sample += 1
                shown, shown_time = frame, time
            if shown is None:
                raise FrameInputError(f"{path}: the video has no frames that can be decoded")
            end = shown_time + _frame_duration(stream)
            while sample / fps <= shown_time + TIME_TOLERANCE or sample / fps < end - TIME_TOLERANCE:
                yield Frame(shown.to_image(), sample / fps, f"{path.name}@{sample / fps:.2f}s")
                sample += 1
    except av.FFmpegError as error:
        raise _video_error(path, error) from None


# --- Writing ----------------------------------------------------------------------------------------------------
def write_video(path: str | os.PathLike, images, fps: float, codec: str = "mpeg4", bit_rate: int = 4_000_000) -> Path:
    """Encode ``images`` (PIL, all the same even size) as a video at ``fps`` with PyAV, frame ``i`` at ``i / fps``
    seconds: test clips and the benchmark's videos built from photos, read back by :func:`open_frames`."""
    import av
    from fractions import Fraction

    images = list(images)
    if not images:
        raise FrameInputError(f"{path}: no frames to write")
    width, height = images[0].size
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1000))
        pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"  # MJPEG wants full-range YUV
        stream.width, stream.height, stream.pix_fmt, stream.bit_rate = width, height, pix_fmt, bit_rate
        for image in images:  # the encoder numbers the frames: frame i gets pts i in the 1/fps time base
            container.mux(stream.encode(av.VideoFrame.from_image(image.convert("RGB"))))
        container.mux(stream.encode(None))
    return Path(path)


__all__ = [
    "DEFAULT_FPS", "Frame", "FrameInputError", "FrameSource", "folder_frame_files", "natural_key", "open_frames", "write_video",
]
