"""Streams a video frame by frame and cuts the clip of every keyframe.

Keyframes are planned up front from the frame count and frame rate the
video reports (`plan_keyframes`): every `keyframe_every` frames (time
`frame / fps`), at `keyframes_per_second` (the times `t0, t0 + 1/r, ...`,
each keyframe the frame nearest its time, `round(t * fps)`, and stamped with
that time: at one per second, as AVA, whole seconds at any frame rate, so a
29.97 fps video gives 902, not 902.002), or at the given `keyframe_seconds`
(frame `round(t * fps)` of each, stamped with that time, e.g. the annotated
keyframes of a csv), inside the range chosen by `start_seconds`,
`end_seconds` (inclusive) and `max_frames`.

Each keyframe's clip follows `video_io.clip_frame_numbers`: `frames_per_clip`
frames every `frame_stride` frames, the keyframe at index
`frames_per_clip // 2`, frames outside the video clamped to its first or last
frame. A clip spans `(frames_per_clip - 1) * frame_stride + 1` video frames,
and `VideoStream` holds exactly that many decoded frames in a ring buffer
while it reads the file in order, so memory does not grow with the video's
length. Every frame of the range is read (and yielded, for rendering);
frames before `start_seconds` and after the range only as far as the first
and last clips need them.

Reading stops early, with a warning, when the video holds fewer frames than
it reports (OpenCV's frame counts of some containers are estimates);
keyframes past the real end are then dropped and clips near it are clamped
to the last frame actually read.
"""

import bisect
import collections
import dataclasses
import math
from typing import Iterator, Optional, Sequence, Tuple, Union

from absl import logging
import cv2
import numpy as np

from acrn_tf.data.conversion import optical_flow
from acrn_tf.data.conversion import video_io


class VideoTooShortError(video_io.VideoError):
  """A video with fewer frames than one clip spans."""


class EmptyRangeError(video_io.VideoError):
  """The chosen start / end / max_frames leave no keyframe in the video."""


def clip_span(frames_per_clip: int, frame_stride: int) -> int:
  """Video frames one clip covers: `(frames_per_clip - 1) * stride + 1`."""
  return (frames_per_clip - 1) * frame_stride + 1


@dataclasses.dataclass(frozen=True)
class StreamOptions:
  """How keyframes and clips are taken from a video.

  Attributes:
    frames_per_clip: T, the frames of a clip (>= 1).
    frame_stride: video frames between two clip frames (>= 1).
    keyframe_every: a keyframe every this many frames; or
    keyframes_per_second: keyframes per second of video; or
    keyframe_seconds: the keyframes' times in the file, in seconds (give
      exactly one of the three).
    start_seconds: first time considered (None: the start of the video).
    end_seconds: last time considered, inclusive (None: the end).
    max_frames: consider at most this many frames from the start (None: no
      limit).
    clip_size: if set, (height, width) in pixels the clip frames (and the
      flow computed from them) are resized to; None keeps the video's size.
  """
  frames_per_clip: int
  frame_stride: int = 1
  keyframe_every: Optional[int] = None
  keyframes_per_second: Optional[float] = None
  start_seconds: Optional[float] = None
  end_seconds: Optional[float] = None
  max_frames: Optional[int] = None
  clip_size: Optional[Tuple[int, int]] = None
  keyframe_seconds: Optional[Tuple[float, ...]] = None

  def __post_init__(self):
    if self.frames_per_clip < 1:
      raise ValueError(
          f'frames_per_clip must be >= 1, got {self.frames_per_clip}')
    if self.frame_stride < 1:
      raise ValueError(f'frame_stride must be >= 1, got {self.frame_stride}')
    given = [self.keyframe_every, self.keyframes_per_second,
             self.keyframe_seconds]
    if sum(value is not None for value in given) != 1:
      raise ValueError('give exactly one of keyframe_every, '
                       'keyframes_per_second and keyframe_seconds')
    if self.keyframe_seconds is not None:
      if not self.keyframe_seconds:
        raise ValueError('keyframe_seconds is empty')
      for seconds in self.keyframe_seconds:
        if not (math.isfinite(seconds) and seconds >= 0):
          raise ValueError('keyframe_seconds must be times >= 0 in the '
                           f'video, got {seconds}')
    if self.keyframe_every is not None and self.keyframe_every < 1:
      raise ValueError(
          f'keyframe_every must be >= 1, got {self.keyframe_every}')
    if self.keyframes_per_second is not None and not (
        math.isfinite(self.keyframes_per_second) and
        self.keyframes_per_second > 0):
      raise ValueError('keyframes_per_second must be a positive number, got '
                       f'{self.keyframes_per_second}')
    if self.start_seconds is not None and not (
        math.isfinite(self.start_seconds) and self.start_seconds >= 0):
      raise ValueError(f'start must be >= 0 seconds, got {self.start_seconds}')
    if self.end_seconds is not None:
      if not math.isfinite(self.end_seconds) or self.end_seconds < 0:
        raise ValueError(f'end must be >= 0 seconds, got {self.end_seconds}')
      if (self.start_seconds is not None and
          self.end_seconds < self.start_seconds):
        raise ValueError(f'end ({self.end_seconds} s) is before start '
                         f'({self.start_seconds} s)')
    if self.max_frames is not None and self.max_frames < 1:
      raise ValueError(f'max_frames must be >= 1, got {self.max_frames}')
    if self.clip_size is not None and min(self.clip_size) < 1:
      raise ValueError(f'clip_size must be positive, got {self.clip_size}')

  @property
  def span(self) -> int:
    """Video frames one clip covers."""
    return clip_span(self.frames_per_clip, self.frame_stride)


@dataclasses.dataclass(frozen=True)
class KeyframePlan:
  """The frames a stream considers and its keyframes.

  Attributes:
    start_frame: first frame of the range (inclusive).
    stop_frame: end of the range (exclusive), from the reported frame count.
    keyframe_numbers: increasing frame indices inside the range.
    keyframe_times: the time of each keyframe in seconds: the planned time
      with `keyframes_per_second` (the keyframe is the frame nearest it),
      `frame / fps` with `keyframe_every`.
  """
  start_frame: int
  stop_frame: int
  keyframe_numbers: Tuple[int, ...]
  keyframe_times: Tuple[float, ...] = ()


def plan_keyframes(num_frames: int, fps: float, options: StreamOptions,
                   source: str = '') -> KeyframePlan:
  """The range and the keyframes of a video of `num_frames` at `fps`.

  Args:
    num_frames: frames the video reports.
    fps: its frame rate.
    options: the StreamOptions.
    source: the video's path, for error messages.

  Returns:
    The KeyframePlan.

  Raises:
    EmptyRangeError: the range holds no keyframe (start past the end, ...).
  """
  prefix = f'{source}: ' if source else ''
  start = 0
  if options.start_seconds is not None:
    start = video_io.frame_number_at(options.start_seconds, fps)
  stop = num_frames
  if options.end_seconds is not None:
    stop = min(stop, video_io.frame_number_at(options.end_seconds, fps) + 1)
  if options.max_frames is not None:
    stop = min(stop, start + options.max_frames)
  if start >= stop:
    raise EmptyRangeError(
        f'{prefix}the range from frame {start} to frame {stop} holds no '
        f'frame (the video has {num_frames} frames at {fps:g} fps, '
        f'{num_frames / fps:g} s)')
  times = []
  if options.keyframe_every is not None:
    keyframes = list(range(start, stop, options.keyframe_every))
    times = [frame / fps for frame in keyframes]
  elif options.keyframe_seconds is not None:
    # Each frame keeps the first time asked for that falls on it.
    time_of_frame = {}
    for t in options.keyframe_seconds:
      time_of_frame.setdefault(video_io.frame_number_at(t, fps), t)
    frames = sorted(time_of_frame)
    keyframes = [frame for frame in frames if start <= frame < stop]
    times = [time_of_frame[frame] for frame in keyframes]
    if not keyframes:
      raise EmptyRangeError(
          f'{prefix}none of the {len(frames)} keyframes asked for (frames '
          f'{frames[0]} to {frames[-1]}, {min(options.keyframe_seconds):g} to '
          f'{max(options.keyframe_seconds):g} s) lies in frames {start} to '
          f'{stop - 1} (the video has {num_frames} frames at {fps:g} fps)')
    if len(keyframes) < len(frames):
      logging.warning('%s%d of the %d keyframes asked for lie outside frames '
                      '%d to %d: left out', prefix,
                      len(frames) - len(keyframes), len(frames), start,
                      stop - 1)
  else:
    first_time = start / fps if options.start_seconds is None else (
        options.start_seconds)
    keyframes = []
    i = 0
    while True:
      time = first_time + i / options.keyframes_per_second
      frame = video_io.frame_number_at(time, fps)
      if frame >= stop:
        break
      if frame >= start and (not keyframes or frame > keyframes[-1]):
        keyframes.append(frame)
        times.append(time)
      i += 1
  if not keyframes:
    raise EmptyRangeError(f'{prefix}no keyframe lies in frames {start} to '
                          f'{stop - 1}')
  return KeyframePlan(start, stop, tuple(keyframes), tuple(times))


@dataclasses.dataclass(frozen=True)
class FrameEvent:
  """A frame of the range, in reading order.

  Attributes:
    frame_number: its 0-based index in the video.
    timestamp_seconds: frame_number / fps.
    frame: uint8 RGB `[height, width, 3]` at the video's size.
  """
  frame_number: int
  timestamp_seconds: float
  frame: np.ndarray


@dataclasses.dataclass(frozen=True)
class ClipEvent:
  """A keyframe's clip, once all its frames have been read.

  Attributes:
    clip: the `video_io.Clip` (frames uint8 `[T, H, W, 3]`, resized to the
      options' clip_size if set).
    flow: float32 `[T, H, W, 2]` (x, y) pixels per clip frame, or None.
    timestamp_seconds: the keyframe's time (`KeyframePlan.keyframe_times`).
  """
  clip: video_io.Clip
  flow: Optional[np.ndarray]
  timestamp_seconds: float


StreamEvent = Union[FrameEvent, ClipEvent]


def _resize(frame: np.ndarray, size: Optional[Tuple[int, int]]
            ) -> np.ndarray:
  if size is None or tuple(frame.shape[:2]) == tuple(size):
    return frame
  height, width = size
  interpolation = (cv2.INTER_AREA if height * width < frame.shape[0] *
                   frame.shape[1] else cv2.INTER_LINEAR)
  return cv2.resize(frame, (width, height), interpolation=interpolation)


class VideoStream:
  """Reads a video once, in order, yielding its frames and keyframe clips.

  Iterating yields, in order, a `FrameEvent` for every frame of the range
  and a `ClipEvent` for each keyframe right after the last frame its clip
  needs (so a clip's keyframe and the frames before it were yielded first).
  """

  def __init__(self, reader: video_io.VideoReader, options: StreamOptions,
               flow_estimator: Optional[optical_flow.FlowEstimator] = None):
    """Plans the keyframes of an open video.

    Args:
      reader: an open VideoReader (`video_io.open_video`).
      options: the StreamOptions.
      flow_estimator: if given, each clip carries its optical flow.

    Raises:
      VideoTooShortError: the video has fewer frames than one clip spans.
      EmptyRangeError: no keyframe lies in the chosen range.
    """
    self._reader = reader
    self._options = options
    self._flow_estimator = flow_estimator
    info = reader.info
    self._check_length(info.num_frames)
    self.plan = plan_keyframes(info.num_frames, info.fps, options,
                               reader.path)
    self._keyframe_times = dict(zip(self.plan.keyframe_numbers,
                                    self.plan.keyframe_times))
    before = (options.frames_per_clip // 2) * options.frame_stride
    after = options.span - 1 - before
    self._before, self._after = before, after
    self._buffer = collections.deque(maxlen=options.span)
    self.max_frames_held = 0
    self.frames_read = 0
    self.keyframes_done = 0

  @property
  def fps(self) -> float:
    """The video's frame rate."""
    return self._reader.info.fps

  @property
  def span(self) -> int:
    """The most frames the ring buffer holds."""
    return self._options.span

  @property
  def frames_held(self) -> int:
    """Frames in the ring buffer now."""
    return len(self._buffer)

  def _check_length(self, num_frames: int) -> None:
    if num_frames < self._options.span:
      raise VideoTooShortError(
          f'{self._reader.path}: the video has {num_frames} frames, fewer '
          f'than the {self._options.span} frames one clip spans '
          f'({self._options.frames_per_clip} frames at stride '
          f'{self._options.frame_stride})')

  def __iter__(self) -> Iterator[StreamEvent]:
    plan = self.plan
    keyframes = collections.deque(plan.keyframe_numbers)
    first_read = max(0, plan.start_frame - self._before)
    last_needed = min(self._reader.info.num_frames - 1,
                      max(plan.stop_frame - 1,
                          plan.keyframe_numbers[-1] + self._after))
    last_read = first_read - 1
    for number in range(first_read, last_needed + 1):
      frame = self._read(number)
      if frame is None:
        break
      last_read = number
      self._buffer.append((number, frame, _resize(frame,
                                                  self._options.clip_size)))
      self.max_frames_held = max(self.max_frames_held, len(self._buffer))
      if plan.start_frame <= number < plan.stop_frame:
        yield FrameEvent(number, number / self.fps, frame)
      while keyframes and keyframes[0] + self._after <= number:
        yield self._clip_event(keyframes.popleft(), number)
    if last_read < last_needed:
      self._check_length(last_read + 1)
    # Clips that run past the video's end (or past the last frame read, if
    # it ended early) are clamped to its last frame.
    while keyframes and keyframes[0] <= last_read:
      yield self._clip_event(keyframes.popleft(), last_read)
    if keyframes:
      logging.warning('%s: %d keyframes lie past the last frame read (%d)',
                      self._reader.path, len(keyframes), last_read)

  def _read(self, number: int) -> Optional[np.ndarray]:
    """The frame, or None when the video ends before its reported count."""
    try:
      frame = self._reader.read_frames([number])[0]
    except video_io.VideoReadError as e:
      if not self.frames_read:
        raise
      logging.warning('%s: reading stopped at frame %d of the %d reported '
                      '(%s)', self._reader.path, number,
                      self._reader.info.num_frames, e)
      return None
    self.frames_read += 1
    return frame

  def _clip_event(self, keyframe: int, last_frame: int) -> ClipEvent:
    """The clip of `keyframe`, from the ring buffer.

    Args:
      keyframe: the keyframe's frame number.
      last_frame: the newest frame read; when the clip reaches past it, the
        video ended there and the clip is clamped to it.
    """
    num_frames = (last_frame + 1 if last_frame < keyframe + self._after
                  else self._reader.info.num_frames)
    numbers = video_io.clip_frame_numbers(
        keyframe, max(num_frames, keyframe + 1),
        self._options.frames_per_clip, self._options.frame_stride)
    held = {number: resized for number, _, resized in self._buffer}
    frames = np.stack([held[n] for n in numbers.frame_numbers])
    flow = None
    if self._flow_estimator is not None:
      flow = optical_flow.clip_flow(frames, self._flow_estimator)
    self.keyframes_done += 1
    clip = video_io.Clip(
        frames=frames, frame_numbers=numbers.frame_numbers,
        keyframe_index=numbers.keyframe_index, keyframe_frame_number=keyframe,
        num_clamped=numbers.num_clamped, fps=self.fps)
    return ClipEvent(clip=clip, flow=flow,
                     timestamp_seconds=self._keyframe_times.get(
                         keyframe, keyframe / self.fps))



def keyframe_for_frame(keyframe_numbers: Sequence[int],
                       frame_number: int) -> Optional[int]:
  """The nearest keyframe at or before `frame_number` (None if none).

  Args:
    keyframe_numbers: increasing frame indices.
    frame_number: a frame index.
  """
  index = bisect.bisect_right(keyframe_numbers, frame_number) - 1
  return keyframe_numbers[index] if index >= 0 else None
