"""Builds the keyframe `tf.train.SequenceExample`, validating what it writes.

The record layout is `standard_fields.SequenceExampleKeys` (the contract with
the tf.data decoder). Nothing invalid is written: boxes must lie inside
[0, 1] and have a positive extent, label ids must be in the label map, the
frames (and flow images) must decode to the stated size, and the per-frame
lists must have one entry per clip frame. Every error names the
annotation's `source`; `InvalidKeyframeError.reason` is a short category the
converter counts.
"""

import dataclasses
import math
from typing import Collection, List, Optional, Sequence, Tuple

import tensorflow as tf

from acrn_tf.core import standard_fields
from acrn_tf.data.conversion import annotations
from acrn_tf.data.conversion import video_io

_keys = standard_fields.SequenceExampleKeys

# Reasons a keyframe is refused (InvalidKeyframeError.reason).
REASON_BOX_OUTSIDE = 'box outside [0, 1]'
REASON_EMPTY_BOX = 'empty box'
REASON_UNKNOWN_LABEL = 'unknown label id'
REASON_INVALID_CLIP = 'invalid clip'


class InvalidKeyframeError(ValueError):
  """A keyframe that must not be written.

  Attributes:
    reason: one of the REASON_* categories.
  """

  def __init__(self, reason: str, message: str):
    super().__init__(message)
    self.reason = reason


@dataclasses.dataclass(frozen=True)
class EncodedClip:
  """The encoded frames of one keyframe's clip and where they come from.

  Attributes:
    frames_encoded: one JPEG (RGB) per clip frame.
    frame_height, frame_width: the size of every stored frame, in pixels.
    keyframe_index: the keyframe's index in the clip.
    keyframe_frame_number: the keyframe's 0-based frame index in the video.
    keyframe_timestamp: the keyframe's time written to the record (seconds,
      on the dataset's time line).
    frame_timestamps: the time of every clip frame, same time line.
    frame_stride: video frames between consecutive clip frames.
    fps: the video's frame rate.
    flow_x_encoded, flow_y_encoded: one grayscale JPEG of quantised flow per
      clip frame (see `optical_flow`), or None without flow.
    flow_bound: the flow's clipping bound in pixels (with flow only).
  """
  frames_encoded: Sequence[bytes]
  frame_height: int
  frame_width: int
  keyframe_index: int
  keyframe_frame_number: int
  keyframe_timestamp: float
  frame_timestamps: Sequence[float]
  frame_stride: int
  fps: float
  flow_x_encoded: Optional[Sequence[bytes]] = None
  flow_y_encoded: Optional[Sequence[bytes]] = None
  flow_bound: Optional[float] = None

  @property
  def has_flow(self) -> bool:
    return self.flow_x_encoded is not None


def _describe_ids(label_ids: Collection[int]) -> str:
  ids = sorted(label_ids)
  if len(ids) <= 12:
    return '{' + ', '.join(str(i) for i in ids) + '}'
  return f'{len(ids)} ids from {ids[0]} to {ids[-1]}'


def box_problem(box: Sequence[float]) -> Optional[InvalidKeyframeError]:
  """What is wrong with one normalised box, or None.

  The error's message describes the box without naming where it came from
  (callers prefix the source).
  """
  if len(box) != 4:
    return InvalidKeyframeError(
        REASON_BOX_OUTSIDE, f'has {len(box)} coordinates, expected 4')
  text = '[' + ', '.join(f'{v:g}' for v in box) + ']'
  if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in box):
    return InvalidKeyframeError(
        REASON_BOX_OUTSIDE,
        f'[ymin, xmin, ymax, xmax] = {text} is outside [0, 1]')
  ymin, xmin, ymax, xmax = box
  if not (ymin < ymax and xmin < xmax):
    return InvalidKeyframeError(
        REASON_EMPTY_BOX, f'[ymin, xmin, ymax, xmax] = {text} is empty '
        '(needs ymin < ymax and xmin < xmax)')
  return None


def validate_keyframe(annotation: annotations.KeyframeAnnotation,
                      label_ids: Collection[int]) -> None:
  """Checks boxes and labels of a keyframe before anything is decoded.

  Args:
    annotation: the keyframe; boxes `[ymin, xmin, ymax, xmax]` normalised.
    label_ids: the label map's ids.

  Raises:
    InvalidKeyframeError: for a box with a coordinate outside [0, 1] (or not
      finite), a box with ymin >= ymax or xmin >= xmax, or a label id not in
      `label_ids`; the message names the rows of the box (or
      `annotation.source`) and the box.
  """
  known = set(label_ids)
  for i, box in enumerate(annotation.boxes):
    problem = box_problem(box)
    if problem is not None:
      raise InvalidKeyframeError(
          problem.reason, f'{annotation.box_source(i)}: box {i} {problem}')
    for j, label_id in enumerate(annotation.labels[i]):
      if label_id not in known:
        raise InvalidKeyframeError(
            REASON_UNKNOWN_LABEL,
            f'{annotation.label_source(i, j)}: box {i} has label id '
            f'{label_id}, which is not in the label map '
            f'({_describe_ids(known)})')


@dataclasses.dataclass(frozen=True)
class InvalidRows:
  """Annotation rows left out of a keyframe whose other rows are kept.

  Attributes:
    source: the rows, `path:line` (several lines of one box: `path:3,4`).
    reason: one of the REASON_* categories.
    message: the source, the box and what is wrong.
  """
  source: str
  reason: str
  message: str


def drop_invalid_rows(annotation: annotations.KeyframeAnnotation,
                      label_ids: Collection[int]
                      ) -> Tuple[Optional[annotations.KeyframeAnnotation],
                                 List[InvalidRows]]:
  """Leaves out the bad boxes and unknown labels of a keyframe, keeps the rest.

  A box with a bad coordinate loses all its rows; a label id not in the
  label map loses its own row (the box keeps its other labels, and goes
  when none is left). Messages cite the rows themselves
  (`KeyframeAnnotation.label_sources`).

  Args:
    annotation: the keyframe as read.
    label_ids: the label map's ids.

  Returns:
    (the keyframe with its valid boxes and labels, or None when no box is
    left; the rows left out, in box order).
  """
  known = set(label_ids)
  dropped = []
  kept = []  # (box, track id, labels, label sources)
  for i, box in enumerate(annotation.boxes):
    source = annotation.box_source(i)
    problem = box_problem(box)
    if problem is not None:
      dropped.append(InvalidRows(source, problem.reason,
                                 f'{source}: box {i} {problem}'))
      continue
    labels, sources = [], []
    for j, label_id in enumerate(annotation.labels[i]):
      label_source = annotation.label_source(i, j)
      if label_id in known:
        labels.append(label_id)
        sources.append(label_source)
      else:
        dropped.append(InvalidRows(
            label_source, REASON_UNKNOWN_LABEL,
            f'{label_source}: box {i} has label id {label_id}, which is not '
            f'in the label map ({_describe_ids(known)})'))
    if labels:
      kept.append((box, annotation.track_ids[i], labels, sources))
  if not dropped:
    return annotation, []
  if not kept:
    return None, dropped
  return dataclasses.replace(
      annotation, boxes=tuple(k[0] for k in kept),
      track_ids=tuple(k[1] for k in kept),
      labels=tuple(tuple(k[2]) for k in kept),
      label_sources=tuple(tuple(k[3]) for k in kept)), dropped


def validate_clip(clip: EncodedClip, source: str,
                  check_decodable: bool = True) -> None:
  """Checks the clip's counts, indices and (optionally) its images.

  Raises:
    InvalidKeyframeError: with reason REASON_INVALID_CLIP, naming `source`.
  """
  def fail(message):
    raise InvalidKeyframeError(REASON_INVALID_CLIP, f'{source}: {message}')

  num_frames = len(clip.frames_encoded)
  if not num_frames:
    fail('the clip has no frames')
  if not 0 <= clip.keyframe_index < num_frames:
    fail(f'keyframe index {clip.keyframe_index} is outside the clip of '
         f'{num_frames} frames')
  if len(clip.frame_timestamps) != num_frames:
    fail(f'{len(clip.frame_timestamps)} frame timestamps for {num_frames} '
         'frames')
  if clip.frame_height < 1 or clip.frame_width < 1:
    fail(f'frame size {clip.frame_height}x{clip.frame_width} is empty')
  if clip.frame_stride < 1 or not clip.fps > 0:
    fail(f'frame stride {clip.frame_stride} and fps {clip.fps} must be '
         'positive')
  if (clip.flow_x_encoded is None) != (clip.flow_y_encoded is None):
    fail('flow needs both the x and the y images')
  if clip.has_flow:
    if not (clip.flow_bound is not None and clip.flow_bound > 0):
      fail(f'flow bound must be > 0, got {clip.flow_bound}')
    if not len(clip.flow_x_encoded) == len(clip.flow_y_encoded) == num_frames:
      fail(f'{len(clip.flow_x_encoded)} x-flow and '
           f'{len(clip.flow_y_encoded)} y-flow images for {num_frames} '
           'frames')
  if not check_decodable:
    return
  expected = (clip.frame_height, clip.frame_width)
  images = [('frame', e, False) for e in clip.frames_encoded]
  if clip.has_flow:
    images += [('x-flow image', e, True) for e in clip.flow_x_encoded]
    images += [('y-flow image', e, True) for e in clip.flow_y_encoded]
  for index, (what, encoded, grayscale) in enumerate(images):
    index %= num_frames
    try:
      shape = video_io.decode_jpeg(encoded, grayscale).shape[:2]
    except ValueError:
      fail(f'{what} {index} does not decode')
    if shape != expected:
      fail(f'{what} {index} is {shape[0]}x{shape[1]}, expected '
           f'{expected[0]}x{expected[1]}')


def build_sequence_example(annotation: annotations.KeyframeAnnotation,
                           clip: EncodedClip,
                           label_ids: Collection[int],
                           check_decodable: bool = True
                           ) -> tf.train.SequenceExample:
  """Builds the record of one keyframe per `SequenceExampleKeys`.

  Args:
    annotation: the keyframe: video id, boxes (normalised `[ymin, xmin,
      ymax, xmax]`), labels per box, track ids.
    clip: its encoded clip.
    label_ids: the label map's ids.
    check_decodable: decode every image to check it (on by default).

  Returns:
    The tf.train.SequenceExample.

  Raises:
    InvalidKeyframeError: if the annotation or the clip is invalid (see
      `validate_keyframe`, `validate_clip`).
  """
  validate_keyframe(annotation, label_ids)
  validate_clip(clip, annotation.source, check_decodable)
  example = tf.train.SequenceExample()
  context = example.context.feature
  context[_keys.video_id].bytes_list.value.append(
      annotation.video_id.encode('utf-8'))
  context[_keys.keyframe_timestamp].float_list.value.append(
      clip.keyframe_timestamp)
  context[_keys.keyframe_frame_number].int64_list.value.append(
      clip.keyframe_frame_number)
  context[_keys.keyframe_index].int64_list.value.append(clip.keyframe_index)
  context[_keys.frame_height].int64_list.value.append(clip.frame_height)
  context[_keys.frame_width].int64_list.value.append(clip.frame_width)
  context[_keys.num_frames].int64_list.value.append(
      len(clip.frames_encoded))
  context[_keys.frame_stride].int64_list.value.append(clip.frame_stride)
  context[_keys.fps].float_list.value.append(clip.fps)
  context[_keys.frame_timestamps].float_list.value.extend(
      clip.frame_timestamps)
  for coordinate, key in enumerate((_keys.box_ymin, _keys.box_xmin,
                                    _keys.box_ymax, _keys.box_xmax)):
    context[key].float_list.value.extend(
        box[coordinate] for box in annotation.boxes)
  context[_keys.box_track_id].int64_list.value.extend(
      int(t) for t in annotation.track_ids)
  context[_keys.box_label_count].int64_list.value.extend(
      len(labels) for labels in annotation.labels)
  context[_keys.box_label_id].int64_list.value.extend(
      int(label) for labels in annotation.labels for label in labels)
  feature_lists = example.feature_lists.feature_list
  _append_bytes(feature_lists[_keys.frames_encoded], clip.frames_encoded)
  if clip.has_flow:
    context[_keys.flow_bound].float_list.value.append(clip.flow_bound)
    _append_bytes(feature_lists[_keys.flow_x_encoded], clip.flow_x_encoded)
    _append_bytes(feature_lists[_keys.flow_y_encoded], clip.flow_y_encoded)
  return example


def _append_bytes(feature_list, values):
  for value in values:
    feature_list.feature.add().bytes_list.value.append(value)


def serialize(example: tf.train.SequenceExample) -> bytes:
  """Serializes with map keys sorted, so equal records give equal bytes."""
  return example.SerializeToString(deterministic=True)
