"""Reads, resizes and encodes the clips of a video's keyframes into records.

The per-video half of the conversion (`conversion` does sharding, resuming,
threads and writing): one video is opened once, and for each of its
keyframes the clip around it is read (`video_io`), resized, JPEG-encoded,
optionally given optical flow (`optical_flow`), and built into a validated
SequenceExample (`sequence_example_writer`). Frames and flow shared by
overlapping clips are encoded once. Everything here releases the GIL in
OpenCV, so several videos can be encoded on threads.
"""

import dataclasses
import os
from typing import Collection, Dict, List, Optional, Sequence, Tuple

import numpy as np

from acrn_tf.data.conversion import annotations
from acrn_tf.data.conversion import optical_flow
from acrn_tf.data.conversion import sequence_example_writer as writer_lib
from acrn_tf.data.conversion import video_io

KeyframeAnnotation = annotations.KeyframeAnnotation

# Reasons a keyframe is refused here (the writer adds its own).
REASON_MISSING_VIDEO = 'missing video'
REASON_UNREADABLE_VIDEO = 'unreadable video'
REASON_UNREADABLE_FRAME = 'unreadable frame'
REASON_TIMESTAMP_OUTSIDE = 'timestamp outside the video'
REASON_CLAMPED_CLIP = 'clip runs past the video ends'


@dataclasses.dataclass(frozen=True)
class ConversionOptions:
  """How clips are read and stored.

  Attributes:
    frames_per_clip: frames stored per keyframe; the keyframe is at index
      frames_per_clip // 2.
    frame_stride: video frames between consecutive stored frames.
    shorter_side: resize frames so the shorter side has this many pixels,
      keeping the aspect ratio (0 keeps the video's size).
    jpeg_quality: JPEG quality of the frames, 1..100.
    flow: also store the optical flow (see `optical_flow`).
    flow_bound: flow is clipped to [-flow_bound, flow_bound] pixels.
    flow_preset: DIS preset, one of optical_flow.PRESETS.
    flow_jpeg_quality: JPEG quality of the quantised flow images.
    allow_clamped_frames: keep clips that run past either end of the video
      (their outside frames repeat the first/last frame); False skips them.
    frame_dir_fps: frame rate assumed for frame directories whose
      annotation gives none.
    num_threads: threads reading and encoding clips in this process.
  """
  frames_per_clip: int = 20
  frame_stride: int = 1
  shorter_side: int = 0
  jpeg_quality: int = video_io.DEFAULT_JPEG_QUALITY
  flow: bool = False
  flow_bound: float = optical_flow.DEFAULT_FLOW_BOUND
  flow_preset: str = optical_flow.DEFAULT_PRESET
  flow_jpeg_quality: int = optical_flow.DEFAULT_FLOW_JPEG_QUALITY
  allow_clamped_frames: bool = True
  frame_dir_fps: float = 30.0
  num_threads: int = 4

  def validate(self) -> None:
    """Raises ValueError naming the first invalid option."""
    checks = [
        ('frames_per_clip', self.frames_per_clip >= 1, '>= 1'),
        ('frame_stride', self.frame_stride >= 1, '>= 1'),
        ('shorter_side', self.shorter_side >= 0, '>= 0 (0 keeps the size)'),
        ('jpeg_quality', 1 <= self.jpeg_quality <= 100, 'in 1..100'),
        ('flow_bound', self.flow_bound > 0, '> 0'),
        ('flow_preset', self.flow_preset in optical_flow.PRESETS,
         f'one of {optical_flow.PRESETS}'),
        ('flow_jpeg_quality', 1 <= self.flow_jpeg_quality <= 100,
         'in 1..100'),
        ('frame_dir_fps', self.frame_dir_fps > 0, '> 0'),
        ('num_threads', self.num_threads >= 1, '>= 1'),
    ]
    for name, ok, expected in checks:
      if not ok:
        raise ValueError(f'option {name} must be {expected}, got '
                         f'{getattr(self, name)!r}')

  def content_fields(self) -> Dict:
    """The options that change the records' bytes (not num_threads)."""
    fields = dataclasses.asdict(self)
    del fields['num_threads']
    return fields


@dataclasses.dataclass(frozen=True)
class KeyframeResult:
  """What became of one keyframe.

  Attributes:
    keyframe: the annotation.
    record: the serialized SequenceExample, or None if it was refused.
    reason: why it was refused (a REASON_* category), '' if written.
    message: the refusal's message, naming the keyframe's source.
    clamped: the written clip repeats a first/last frame past a video end.
  """
  keyframe: KeyframeAnnotation
  record: Optional[bytes] = None
  reason: str = ''
  message: str = ''
  clamped: bool = False


class ClipEncoder:
  """Reads, resizes and encodes the clips of one open video.

  Keyframes should come in time order: frames (and flow) shared by
  neighbouring clips are decoded and encoded once and kept while a later
  clip may still use them, so memory holds about one clip.
  """

  def __init__(self, reader: video_io.VideoReader,
               options: ConversionOptions):
    self._reader = reader
    self._options = options
    self._frames = {}  # frame number -> (jpeg, gray or None, shape)
    self._flows = {}  # (from, to) -> (x jpeg, y jpeg)
    self._estimator = (optical_flow.FlowEstimator(options.flow_preset)
                       if options.flow else None)

  def encode(self, keyframe: KeyframeAnnotation
             ) -> Tuple[writer_lib.EncodedClip, int]:
    """Encodes the clip centred on one keyframe of this video.

    Args:
      keyframe: the annotation (its time or frame number is used).

    Returns:
      (clip, num_clamped): the EncodedClip and the number of its frames that
      lay outside the video (see `video_io.clip_frame_numbers`).

    Raises:
      video_io.TimestampOutsideVideoError: if the keyframe is outside the
        video.
      video_io.VideoReadError: if a frame cannot be decoded.
    """
    options, info = self._options, self._reader.info
    file_seconds = (None if keyframe.keyframe_timestamp is None else
                    keyframe.keyframe_timestamp - keyframe.time_offset_seconds)
    key_frame = video_io.keyframe_frame_number(
        info, file_seconds, keyframe.keyframe_frame_number, keyframe.source)
    clip = video_io.clip_frame_numbers(key_frame, info.num_frames,
                                       options.frames_per_clip,
                                       options.frame_stride)
    numbers = clip.frame_numbers
    for number in list(self._frames):
      if number < numbers[0]:
        del self._frames[number]
    for pair in list(self._flows):
      if pair[0] < numbers[0]:
        del self._flows[pair]
    missing = sorted(set(numbers) - set(self._frames))
    for number, frame in zip(missing, self._reader.read_frames(missing)):
      frame = video_io.resize_shorter_side(frame, options.shorter_side)
      gray = optical_flow.to_gray(frame) if options.flow else None
      self._frames[number] = (
          video_io.encode_jpeg(frame, options.jpeg_quality), gray,
          frame.shape[:2])
    height, width = self._frames[key_frame][2]
    timestamp = (keyframe.keyframe_timestamp
                 if keyframe.keyframe_timestamp is not None else
                 keyframe.time_offset_seconds + key_frame / info.fps)
    flow_x = flow_y = None
    if options.flow:
      # Flow from each clip frame to the next; the last repeats the previous
      # (a one-frame clip gets zero flow).
      images = [self._flow_images(pair)
                for pair in zip(numbers[:-1], numbers[1:])]
      images.append(images[-1] if images else
                    self._flow_images((numbers[0], numbers[0])))
      flow_x, flow_y = [x for x, _ in images], [y for _, y in images]
    encoded = writer_lib.EncodedClip(
        frames_encoded=[self._frames[n][0] for n in numbers],
        frame_height=height, frame_width=width,
        keyframe_index=clip.keyframe_index, keyframe_frame_number=key_frame,
        keyframe_timestamp=timestamp,
        frame_timestamps=[timestamp + (n - key_frame) / info.fps
                          for n in numbers],
        frame_stride=options.frame_stride, fps=info.fps,
        flow_x_encoded=flow_x, flow_y_encoded=flow_y,
        flow_bound=options.flow_bound if options.flow else None)
    return encoded, clip.num_clamped

  def _flow_images(self, pair: Tuple[int, int]) -> Tuple[bytes, bytes]:
    if pair not in self._flows:
      first, second = self._frames[pair[0]][1], self._frames[pair[1]][1]
      if pair[0] == pair[1] or first.shape != second.shape:
        flow = np.zeros(first.shape + (2,), np.float32)
      else:
        flow = self._estimator(first, second)
      quantised = optical_flow.quantise_flow(flow[np.newaxis],
                                             self._options.flow_bound)
      x_jpegs, y_jpegs = optical_flow.encode_flow(
          quantised, self._options.flow_jpeg_quality)
      self._flows[pair] = (x_jpegs[0], y_jpegs[0])
    return self._flows[pair]


def encode_video_keyframes(video_path: str,
                           keyframes: Sequence[KeyframeAnnotation],
                           options: ConversionOptions,
                           label_ids: Collection[int],
                           fps: Optional[float] = None
                           ) -> List[KeyframeResult]:
  """Opens one video once and turns its keyframes into serialized records.

  Never raises for bad inputs: a missing or unreadable video, a keyframe
  outside the video, an undecodable frame, a clamped clip (when not allowed)
  or an invalid annotation gives a refused KeyframeResult with its reason.

  Args:
    video_path: the video file or frame directory (already resolved).
    keyframes: keyframes of this video, best in time order.
    options: how to encode the clips.
    label_ids: the label map's ids.
    fps: the video's frame rate if known (required for frame directories;
      default options.frame_dir_fps there).

  Returns:
    One KeyframeResult per keyframe, in order.
  """
  if fps is None and os.path.isdir(video_path):
    fps = options.frame_dir_fps
  try:
    reader = video_io.open_video(video_path, fps)
  except video_io.VideoNotFoundError as e:
    return [KeyframeResult(k, reason=REASON_MISSING_VIDEO,
                           message=f'{k.source}: {e}') for k in keyframes]
  except video_io.VideoError as e:
    return [KeyframeResult(k, reason=REASON_UNREADABLE_VIDEO,
                           message=f'{k.source}: {e}') for k in keyframes]
  with reader:
    encoder = ClipEncoder(reader, options)
    return [_encode_keyframe(encoder, k, options, label_ids)
            for k in keyframes]


def _encode_keyframe(encoder: ClipEncoder, keyframe: KeyframeAnnotation,
                     options: ConversionOptions,
                     label_ids: Collection[int]) -> KeyframeResult:
  """One keyframe's record, or its refusal."""
  try:
    clip, num_clamped = encoder.encode(keyframe)
  except video_io.TimestampOutsideVideoError as e:
    return KeyframeResult(keyframe, reason=REASON_TIMESTAMP_OUTSIDE,
                          message=str(e))
  except video_io.VideoError as e:
    return KeyframeResult(keyframe, reason=REASON_UNREADABLE_FRAME,
                          message=f'{keyframe.source}: {e}')
  if num_clamped and not options.allow_clamped_frames:
    return KeyframeResult(
        keyframe, reason=REASON_CLAMPED_CLIP,
        message=f'{keyframe.source}: {num_clamped} of the clip\'s '
        f'{options.frames_per_clip} frames lie outside the video')
  try:
    example = writer_lib.build_sequence_example(keyframe, clip, label_ids)
  except writer_lib.InvalidKeyframeError as e:
    return KeyframeResult(keyframe, reason=e.reason, message=str(e))
  return KeyframeResult(keyframe, record=writer_lib.serialize(example),
                        clamped=bool(num_clamped))
