"""Reads clips from video files or frame directories; resizes and encodes.

A video is either a file any OpenCV backend reads (`cv2.VideoCapture`: mp4,
avi, mkv, webm, ...) or a directory of frame images sorted by name (numbers
inside names compare as numbers, so `2.png` precedes `10.png`). Frames come
back as uint8 RGB `[height, width, 3]` arrays.

Clip convention (shared with `clip_sampling`): a clip of `frames_per_clip`
frames taken every `frame_stride` frames has its keyframe at index
`frames_per_clip // 2` (the later of the two middle frames for an even
length); clip frame `i` is video frame
`keyframe + (i - frames_per_clip // 2) * frame_stride`, clamped to the first
or last frame of the video. The number of clamped frames is reported so the
converter can refuse such clips or count them.

A timestamp `t` (seconds into the file) is frame `round(t * fps)`: the frame
whose start time is nearest.
"""

import dataclasses
import math
import os
import re
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

IMAGE_EXTENSIONS = ('.bmp', '.jpeg', '.jpg', '.pgm', '.png', '.ppm', '.tif',
                    '.tiff', '.webp')
DEFAULT_JPEG_QUALITY = 90
# Forward gaps up to this many frames are skipped by decoding (grab) rather
# than by seeking: a seek decodes from the previous key frame anyway.
_MAX_FRAMES_TO_GRAB = 250


class VideoError(ValueError):
  """A video that cannot be used; the message names the path."""


class VideoNotFoundError(VideoError):
  """The video file or frame directory does not exist."""


class VideoReadError(VideoError):
  """The video exists but cannot be opened or a frame cannot be decoded."""


class TimestampOutsideVideoError(VideoError):
  """A keyframe time or frame number that lies outside the video."""


@dataclasses.dataclass(frozen=True)
class VideoInfo:
  """What a video reports about itself.

  Attributes:
    fps: frames per second.
    num_frames: number of frames.
    height, width: frame size in pixels.
  """
  fps: float
  num_frames: int
  height: int
  width: int


class VideoReader:
  """Random access to the frames of one video; use as a context manager."""

  def __init__(self, path: str, info: VideoInfo):
    self.path = path
    self.info = info

  def read_frames(self, frame_numbers: Sequence[int]) -> List[np.ndarray]:
    """Returns the frames at `frame_numbers` (any order, repeats allowed).

    Each distinct frame is decoded once, in ascending order, so memory holds
    only the frames asked for.

    Args:
      frame_numbers: 0-based frame indices inside [0, num_frames).

    Returns:
      uint8 RGB `[height, width, 3]` arrays, one per entry of
      `frame_numbers`.

    Raises:
      VideoReadError: if an index is outside the video or a frame cannot be
        decoded.
    """
    decoded = {}
    for number in sorted(set(frame_numbers)):
      if not 0 <= number < self.info.num_frames:
        raise VideoReadError(f'{self.path}: frame {number} is outside the '
                             f'video\'s {self.info.num_frames} frames')
      decoded[number] = self._read(number)
    return [decoded[number] for number in frame_numbers]

  def _read(self, frame_number: int) -> np.ndarray:
    raise NotImplementedError

  def close(self) -> None:
    pass

  def __enter__(self):
    return self

  def __exit__(self, *unused_exc_info):
    self.close()


def _to_rgb(image: np.ndarray) -> np.ndarray:
  if image.ndim == 2:
    return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
  if image.shape[2] == 4:
    return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
  return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class _CaptureReader(VideoReader):
  """A video file read with cv2.VideoCapture (seek + sequential decoding)."""

  def __init__(self, path: str, fps: Optional[float]):
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
      capture.release()
      raise VideoReadError(f'{path}: OpenCV cannot open this video')
    reported_fps = capture.get(cv2.CAP_PROP_FPS)
    info = VideoInfo(
        fps=float(fps if fps else reported_fps),
        num_frames=int(capture.get(cv2.CAP_PROP_FRAME_COUNT)),
        height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)))
    if not (math.isfinite(info.fps) and info.fps > 0):
      capture.release()
      raise VideoReadError(f'{path}: the video reports no valid frame rate '
                           f'({reported_fps!r}); give the fps explicitly')
    if info.num_frames <= 0:
      capture.release()
      raise VideoReadError(f'{path}: the video reports no frames')
    super().__init__(path, info)
    self._capture = capture
    self._next_frame = 0

  def _read(self, frame_number: int) -> np.ndarray:
    gap = (None if self._next_frame is None else
           frame_number - self._next_frame)
    try:
      if gap is not None and 0 <= gap <= _MAX_FRAMES_TO_GRAB:
        for _ in range(gap):
          if not self._capture.grab():
            self._next_frame = None
            raise VideoReadError(f'{self.path}: cannot decode frame '
                                 f'{self._next_frame} (the video reports '
                                 f'{self.info.num_frames} frames)')
          self._next_frame += 1
      else:
        self._capture.set(cv2.CAP_PROP_POS_FRAMES, frame_number)
      self._next_frame = frame_number
      ok, frame = self._capture.read()
    except cv2.error as e:
      raise VideoReadError(f'{self.path}: OpenCV failed reading frame '
                           f'{frame_number}: {e}') from e
    if not ok or frame is None:
      # The position is unknown after a failed read: seek next time.
      self._next_frame = None
      raise VideoReadError(f'{self.path}: cannot decode frame {frame_number} '
                           f'(the video reports {self.info.num_frames} '
                           'frames)')
    self._next_frame = frame_number + 1
    return _to_rgb(frame)

  def close(self) -> None:
    self._capture.release()


def _natural_key(name: str):
  return [(0, int(part), '') if part.isdigit() else (1, 0, part)
          for part in re.split(r'(\d+)', name)]


class _FrameDirectoryReader(VideoReader):
  """A directory of frame images, in natural name order."""

  def __init__(self, path: str, fps: Optional[float]):
    if not fps or not (math.isfinite(fps) and fps > 0):
      raise ValueError(f'{path}: a frame directory needs a positive fps, '
                       f'got {fps!r}')
    names = sorted((n for n in os.listdir(path)
                    if not n.startswith('.') and
                    os.path.splitext(n)[1].lower() in IMAGE_EXTENSIONS),
                   key=_natural_key)
    if not names:
      raise VideoReadError(f'{path}: the directory holds no frame images '
                           f'({", ".join(IMAGE_EXTENSIONS)})')
    self._files = [os.path.join(path, n) for n in names]
    first = cv2.imread(self._files[0], cv2.IMREAD_UNCHANGED)
    if first is None:
      raise VideoReadError(f'{self._files[0]}: OpenCV cannot read this image')
    super().__init__(path, VideoInfo(fps=float(fps), num_frames=len(names),
                                     height=first.shape[0],
                                     width=first.shape[1]))

  def _read(self, frame_number: int) -> np.ndarray:
    path = self._files[frame_number]
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
      raise VideoReadError(f'{path}: OpenCV cannot read this image (frame '
                           f'{frame_number} of {self.path})')
    return _to_rgb(image)


def open_video(path: str, fps: Optional[float] = None) -> VideoReader:
  """Opens a video file or a frame directory.

  Args:
    path: a video file or a directory of frame images.
    fps: the frame rate; required for a frame directory, optional for a
      file (overrides the container's rate, for files with broken metadata).

  Returns:
    A VideoReader (close it, or use it in a `with` block).

  Raises:
    VideoNotFoundError: if `path` does not exist.
    VideoReadError: if it cannot be opened or holds no frames.
    ValueError: for a frame directory without a positive `fps`.
  """
  if not os.path.exists(path):
    raise VideoNotFoundError(f'{path}: no such video file or frame directory')
  if os.path.isdir(path):
    return _FrameDirectoryReader(path, fps)
  return _CaptureReader(path, fps)


def frame_number_at(timestamp_seconds: float, fps: float) -> int:
  """The frame shown at `timestamp_seconds`: `round(timestamp * fps)`."""
  return int(math.floor(timestamp_seconds * fps + 0.5))


def keyframe_frame_number(info: VideoInfo,
                          timestamp_seconds: Optional[float] = None,
                          frame_number: Optional[int] = None,
                          source: str = '') -> int:
  """The keyframe's frame index, checked to lie inside the video.

  Args:
    info: the video's VideoInfo.
    timestamp_seconds: seconds into the file (used when `frame_number` is
      None).
    frame_number: the 0-based frame index, if known.
    source: the annotation's origin, for the error message.

  Returns:
    The frame index in [0, info.num_frames).

  Raises:
    TimestampOutsideVideoError: if the frame lies outside the video.
  """
  prefix = f'{source}: ' if source else ''
  if frame_number is None:
    if timestamp_seconds is None or not math.isfinite(timestamp_seconds):
      raise TimestampOutsideVideoError(
          f'{prefix}keyframe has no valid time ({timestamp_seconds!r})')
    frame_number = frame_number_at(timestamp_seconds, info.fps)
    where = f'at {timestamp_seconds:g} s (frame {frame_number})'
  else:
    where = f'at frame {frame_number}'
  if not 0 <= frame_number < info.num_frames:
    raise TimestampOutsideVideoError(
        f'{prefix}keyframe {where} is outside the video ({info.num_frames} '
        f'frames at {info.fps:g} fps: 0 to '
        f'{(info.num_frames - 1) / info.fps:g} s)')
  return frame_number


@dataclasses.dataclass(frozen=True)
class ClipFrameNumbers:
  """The video frames that make up one clip.

  Attributes:
    frame_numbers: the video frame index of each clip frame (clamped).
    keyframe_index: the keyframe's index in the clip, `frames_per_clip // 2`.
    num_clamped: how many clip frames fell outside the video and were
      clamped to its first or last frame.
  """
  frame_numbers: Tuple[int, ...]
  keyframe_index: int
  num_clamped: int


def clip_frame_numbers(keyframe_frame: int, num_video_frames: int,
                       frames_per_clip: int,
                       frame_stride: int = 1) -> ClipFrameNumbers:
  """The frames of the clip centred on `keyframe_frame` (module docstring).

  Raises:
    ValueError: for frames_per_clip or frame_stride below 1, or a keyframe
      outside [0, num_video_frames).
  """
  if frames_per_clip < 1:
    raise ValueError(f'frames_per_clip must be >= 1, got {frames_per_clip}')
  if frame_stride < 1:
    raise ValueError(f'frame_stride must be >= 1, got {frame_stride}')
  if not 0 <= keyframe_frame < num_video_frames:
    raise ValueError(f'keyframe frame {keyframe_frame} is outside the '
                     f'video\'s {num_video_frames} frames')
  keyframe_index = frames_per_clip // 2
  wanted = [keyframe_frame + (i - keyframe_index) * frame_stride
            for i in range(frames_per_clip)]
  clamped = tuple(min(max(n, 0), num_video_frames - 1) for n in wanted)
  return ClipFrameNumbers(
      frame_numbers=clamped, keyframe_index=keyframe_index,
      num_clamped=sum(a != b for a, b in zip(wanted, clamped)))


def resized_shape(height: int, width: int,
                  shorter_side: int) -> Tuple[int, int]:
  """(height, width) with the shorter side `shorter_side` (0 = unchanged)."""
  if shorter_side < 0:
    raise ValueError(f'shorter_side must be >= 0, got {shorter_side}')
  if not shorter_side:
    return height, width
  scale = shorter_side / min(height, width)
  return (max(1, int(math.floor(height * scale + 0.5))),
          max(1, int(math.floor(width * scale + 0.5))))


def resize_shorter_side(image: np.ndarray, shorter_side: int) -> np.ndarray:
  """Resizes so the shorter side is `shorter_side`, keeping the aspect ratio.

  Args:
    image: `[height, width(, channels)]` array.
    shorter_side: the target of the shorter side in pixels; 0 keeps the size.
      Images are shrunk with area averaging and enlarged bilinearly.

  Returns:
    The resized image (the input itself when the size does not change).
  """
  height, width = image.shape[:2]
  new_height, new_width = resized_shape(height, width, shorter_side)
  if (new_height, new_width) == (height, width):
    return image
  interpolation = (cv2.INTER_AREA if new_height < height else
                   cv2.INTER_LINEAR)
  return cv2.resize(image, (new_width, new_height),
                    interpolation=interpolation)


def encode_jpeg(image: np.ndarray,
                quality: int = DEFAULT_JPEG_QUALITY) -> bytes:
  """JPEG-encodes a uint8 RGB `[H, W, 3]` or grayscale `[H, W]` image."""
  if not 1 <= quality <= 100:
    raise ValueError(f'JPEG quality must be in 1..100, got {quality}')
  if image.dtype != np.uint8 or image.ndim not in (2, 3):
    raise ValueError(f'can only encode uint8 [H, W(, 3)] images, got '
                     f'{image.dtype} {image.shape}')
  if image.ndim == 3:
    image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
  ok, encoded = cv2.imencode('.jpg', image,
                             [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
  if not ok:
    raise ValueError(f'OpenCV failed to JPEG-encode an image of shape '
                     f'{image.shape}')
  return encoded.tobytes()


def decode_jpeg(encoded: bytes, grayscale: bool = False) -> np.ndarray:
  """Decodes JPEG bytes to uint8 RGB `[H, W, 3]` (or `[H, W]` grayscale).

  Raises:
    ValueError: if the bytes are not a decodable image.
  """
  flag = cv2.IMREAD_GRAYSCALE if grayscale else cv2.IMREAD_COLOR
  image = cv2.imdecode(np.frombuffer(encoded, np.uint8), flag)
  if image is None:
    raise ValueError(f'{len(encoded)} bytes do not decode as an image')
  return image if grayscale else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@dataclasses.dataclass(frozen=True)
class Clip:
  """A clip read from a video.

  Attributes:
    frames: uint8 RGB `[frames_per_clip, height, width, 3]`, resized.
    frame_numbers: the video frame index of each clip frame (clamped).
    keyframe_index: the keyframe's index in `frames`.
    keyframe_frame_number: the keyframe's frame index in the video.
    num_clamped: clip frames that fell outside the video (see
      `ClipFrameNumbers`).
    fps: the video's frame rate.
  """
  frames: np.ndarray
  frame_numbers: Tuple[int, ...]
  keyframe_index: int
  keyframe_frame_number: int
  num_clamped: int
  fps: float


def read_clip(reader: VideoReader, frames_per_clip: int,
              frame_stride: int = 1,
              timestamp_seconds: Optional[float] = None,
              frame_number: Optional[int] = None, shorter_side: int = 0,
              source: str = '') -> Clip:
  """Reads the clip centred on a keyframe given by time or frame number.

  Args:
    reader: an open video.
    frames_per_clip: frames in the clip (>= 1).
    frame_stride: video frames between consecutive clip frames (>= 1).
    timestamp_seconds: the keyframe's time in the file (if no frame_number).
    frame_number: the keyframe's frame index.
    shorter_side: resize frames so their shorter side has this many pixels
      (0 keeps the size).
    source: the request's origin, for error messages.

  Returns:
    The Clip.

  Raises:
    TimestampOutsideVideoError: if the keyframe lies outside the video.
    VideoReadError: if a frame cannot be decoded.
  """
  keyframe = keyframe_frame_number(reader.info, timestamp_seconds,
                                   frame_number, source)
  clip = clip_frame_numbers(keyframe, reader.info.num_frames,
                            frames_per_clip, frame_stride)
  frames = [resize_shorter_side(f, shorter_side)
            for f in reader.read_frames(clip.frame_numbers)]
  return Clip(frames=np.stack(frames), frame_numbers=clip.frame_numbers,
              keyframe_index=clip.keyframe_index,
              keyframe_frame_number=keyframe, num_clamped=clip.num_clamped,
              fps=reader.info.fps)
