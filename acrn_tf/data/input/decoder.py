"""Decodes one serialized keyframe record into a tensor dict.

The record is a ``tf.train.SequenceExample`` with the keys of
`standard_fields.SequenceExampleKeys`; the output dict is keyed by
`standard_fields.InputDataFields`. Parsing uses ``tf.io`` directly: tf-slim's
``tfexample_decoder`` does not run on TensorFlow 2.16+.

Only the frames of the sampled clip are JPEG-decoded (each distinct stored
frame once), which is where nearly all of the decoding time goes.
"""

from typing import Dict, Optional, Sequence, Tuple

import tensorflow as tf

from acrn_tf.core import standard_fields
from acrn_tf.data.input import clip_sampling

_keys = standard_fields.SequenceExampleKeys
_fields = standard_fields.InputDataFields

# Sentinel defaults of optional or checked context features.
_MISSING_INT = -1
_MISSING_FLOAT = -1.0


class SequenceExampleDecoder:
  """Parses keyframe SequenceExamples and decodes their clip.

  The decoded dict (one example, unbatched) holds:
    video_id: string scalar.
    keyframe_timestamp: float32 scalar, seconds.
    keyframe_index: int32 scalar, the keyframe's index in ``frames``.
    frames: uint8 ``[T, H, W, 3]`` RGB, as stored.
    flow: float32 ``[T, H, W, 2]`` (x, y) in pixels per frame (with use_flow).
    original_frame_shape: int32 ``[2]``, H and W as stored.
    groundtruth_boxes: float32 ``[N, 4]`` normalised ``[ymin, xmin, ymax,
      xmax]``.
    groundtruth_classes: float32 ``[N, num_classes]`` multi-hot; column ``k``
      is the k-th smallest label-map id.
    groundtruth_track_ids: int32 ``[N]`` (-1 where unknown).
    num_groundtruth_boxes: int32 scalar, N.

  ``T`` is ``frames_per_clip`` when given, else every stored frame.
  """

  def __init__(self,
               label_ids: Sequence[int],
               use_flow: bool = False,
               frames_per_clip: Optional[int] = None,
               frame_stride: int = 1):
    """Creates the decoder.

    Args:
      label_ids: the label map's class ids (any order, no duplicates); the
        multi-hot columns follow them in ascending order.
      use_flow: decode the optical flow too; records without it then fail
        with an error naming the missing key.
      frames_per_clip: sample this many frames centred on the keyframe (see
        `clip_sampling`); None keeps the stored clip as it is.
      frame_stride: video frames between two sampled frames. A record
        storing every `clip/frame_stride`-th video frame gives every
        (frame_stride / clip/frame_stride)-th stored frame; a record whose
        stride does not divide frame_stride fails with both values named.

    Raises:
      ValueError: for empty or duplicate `label_ids`, or a bad clip size.
    """
    ids = sorted(int(i) for i in label_ids)
    if not ids:
      raise ValueError('label_ids: the label map has no ids')
    if len(set(ids)) != len(ids):
      raise ValueError(f'label_ids: duplicate ids in {ids}')
    if frames_per_clip is not None and frames_per_clip < 1:
      raise ValueError(f'frames_per_clip must be >= 1, got {frames_per_clip}')
    if frame_stride < 1:
      raise ValueError(f'frame_stride must be >= 1, got {frame_stride}')
    self._label_ids = ids
    self._use_flow = use_flow
    self._frames_per_clip = frames_per_clip
    self._frame_stride = frame_stride

  @property
  def num_classes(self) -> int:
    return len(self._label_ids)

  @property
  def label_ids(self) -> Tuple[int, ...]:
    """The label-map ids in column order (ascending)."""
    return tuple(self._label_ids)

  def decode(self, serialized: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Decodes one serialized SequenceExample (string scalar) to a dict."""
    return self.decode_with_clip_check(serialized)[0]

  def decode_with_clip_check(
      self, serialized: tf.Tensor) -> Tuple[Dict[str, tf.Tensor], tf.Tensor]:
    """Like `decode`, also saying whether the clip needed no clamping.

    Args:
      serialized: string scalar, one serialized SequenceExample.

    Returns:
      tensor_dict: the decoded example (see the class docstring).
      is_complete: bool scalar, true when the stored clip holds every sampled
        frame (always true without frames_per_clip).
    """
    context, sequence = self._parse(serialized)
    # Everything below reads the parsed values after the record's checks, so
    # a malformed record fails with the check's message.
    with tf.control_dependencies(self._record_checks(context, sequence)):
      context = {key: tf.identity(value) for key, value in context.items()}
      sequence = {key: tf.identity(value) for key, value in sequence.items()}
    encoded_frames = sequence[_keys.frames_encoded]
    num_stored = tf.shape(encoded_frames)[0]
    stored_keyframe_index = tf.cast(context[_keys.keyframe_index], tf.int32)
    if self._frames_per_clip is None:
      indices = tf.range(num_stored)
      keyframe_index = stored_keyframe_index
      is_complete = tf.constant(True)
    else:
      indices, is_complete = clip_sampling.clip_frame_indices(
          num_stored, stored_keyframe_index, self._frames_per_clip,
          self._stored_frame_step(context))
      keyframe_index = tf.constant(
          clip_sampling.sampled_keyframe_index(self._frames_per_clip),
          tf.int32)

    unique_indices, positions = tf.unique(indices)
    frames = tf.gather(_decode_jpegs(
        tf.gather(encoded_frames, unique_indices), channels=3), positions)
    frames.set_shape([self._frames_per_clip, None, None, 3])
    frame_shape = tf.shape(frames)[1:3]

    boxes = self._boxes(context)
    num_boxes = tf.shape(boxes)[0]
    tensor_dict = {
        _fields.video_id: context[_keys.video_id],
        _fields.keyframe_timestamp: context[_keys.keyframe_timestamp],
        _fields.keyframe_index: keyframe_index,
        _fields.frames: frames,
        _fields.original_frame_shape: frame_shape,
        _fields.groundtruth_boxes: boxes,
        _fields.groundtruth_classes: self._multi_hot(context, num_boxes),
        _fields.groundtruth_track_ids: self._track_ids(context, num_boxes),
        _fields.num_groundtruth_boxes: num_boxes,
    }
    if self._use_flow:
      tensor_dict[_fields.flow] = self._flow(
          context, sequence, unique_indices, positions, frame_shape)
    return tensor_dict, is_complete

  def _stored_frame_step(self, context):
    """Stored frames between two sampled frames, checked against the record.

    The record's `clip/frame_stride` (video frames between stored frames)
    must divide the reader's frame_stride (video frames between sampled
    frames), so that the sampled clip spans the video frames the reader,
    the export and inference agree on. A one-frame clip has no stride.
    """
    if self._frames_per_clip == 1:
      return 1
    stored_stride = tf.cast(context[_keys.frame_stride], tf.int32)
    check = tf.debugging.Assert(
        tf.logical_and(
            stored_stride > 0,
            tf.equal(tf.math.floormod(self._frame_stride,
                                      tf.maximum(stored_stride, 1)), 0)),
        [f'the record\'s {_keys.frame_stride!r} (video frames between '
         f'stored frames) must divide the input reader\'s frame_stride '
         f'{self._frame_stride} (video frames between clip frames); '
         'record stride:', stored_stride])
    with tf.control_dependencies([check]):
      return self._frame_stride // tf.maximum(stored_stride, 1)

  def _parse(self, serialized):
    context_features = {
        _keys.video_id: tf.io.FixedLenFeature([], tf.string, default_value=''),
        _keys.keyframe_timestamp: tf.io.FixedLenFeature(
            [], tf.float32, default_value=_MISSING_FLOAT),
        _keys.keyframe_index: tf.io.FixedLenFeature(
            [], tf.int64, default_value=_MISSING_INT),
        _keys.num_frames: tf.io.FixedLenFeature(
            [], tf.int64, default_value=_MISSING_INT),
        _keys.frame_stride: tf.io.FixedLenFeature(
            [], tf.int64, default_value=_MISSING_INT),
        _keys.box_ymin: tf.io.VarLenFeature(tf.float32),
        _keys.box_xmin: tf.io.VarLenFeature(tf.float32),
        _keys.box_ymax: tf.io.VarLenFeature(tf.float32),
        _keys.box_xmax: tf.io.VarLenFeature(tf.float32),
        _keys.box_track_id: tf.io.VarLenFeature(tf.int64),
        _keys.box_label_count: tf.io.VarLenFeature(tf.int64),
        _keys.box_label_id: tf.io.VarLenFeature(tf.int64),
    }
    sequence_features = {
        _keys.frames_encoded: tf.io.FixedLenSequenceFeature(
            [], tf.string, allow_missing=True),
    }
    if self._use_flow:
      context_features[_keys.flow_bound] = tf.io.FixedLenFeature(
          [], tf.float32, default_value=_MISSING_FLOAT)
      for key in (_keys.flow_x_encoded, _keys.flow_y_encoded):
        sequence_features[key] = tf.io.FixedLenSequenceFeature(
            [], tf.string, allow_missing=True)
    context, sequence = tf.io.parse_single_sequence_example(
        serialized, context_features=context_features,
        sequence_features=sequence_features)
    for key, value in context.items():
      if isinstance(value, tf.sparse.SparseTensor):
        context[key] = tf.sparse.to_dense(value)
    return context, sequence

  def _record_checks(self, context, sequence):
    """Assertions on the record's structure, each naming the key at fault."""
    num_stored = tf.shape(sequence[_keys.frames_encoded])[0]
    keyframe_index = context[_keys.keyframe_index]
    checks = [
        tf.debugging.assert_greater(
            tf.strings.length(context[_keys.video_id]), 0,
            message=f'record has no (or an empty) {_keys.video_id!r}'),
        tf.debugging.assert_non_negative(
            context[_keys.keyframe_timestamp],
            message=f'record has no (or a negative) '
            f'{_keys.keyframe_timestamp!r}'),
        tf.debugging.assert_positive(
            num_stored,
            message=f'record has no frames in {_keys.frames_encoded!r}'),
        tf.debugging.assert_non_negative(
            keyframe_index,
            message=f'record has no (or a negative) {_keys.keyframe_index!r}'),
        tf.debugging.assert_less(
            keyframe_index, tf.cast(num_stored, tf.int64),
            message=f'{_keys.keyframe_index!r} is not below the number of '
            f'frames in {_keys.frames_encoded!r}'),
        tf.debugging.Assert(
            tf.logical_or(
                tf.equal(context[_keys.num_frames], _MISSING_INT),
                tf.equal(context[_keys.num_frames],
                         tf.cast(num_stored, tf.int64))),
            [f'{_keys.num_frames!r} differs from the number of frames in '
             f'{_keys.frames_encoded!r}:', context[_keys.num_frames],
             num_stored]),
    ]
    num_boxes = tf.size(context[_keys.box_ymin])
    for key in (_keys.box_xmin, _keys.box_ymax, _keys.box_xmax,
                _keys.box_label_count):
      checks.append(tf.debugging.assert_equal(
          tf.size(context[key]), num_boxes,
          message=f'{key!r} must have one value per box, like '
          f'{_keys.box_ymin!r}'))
    track_ids = context[_keys.box_track_id]
    checks.append(tf.debugging.Assert(
        tf.logical_or(tf.equal(tf.size(track_ids), 0),
                      tf.equal(tf.size(track_ids), num_boxes)),
        [f'{_keys.box_track_id!r} must have one value per box or none']))
    checks.append(tf.debugging.assert_equal(
        tf.reduce_sum(context[_keys.box_label_count]),
        tf.cast(tf.size(context[_keys.box_label_id]), tf.int64),
        message=f'the sum of {_keys.box_label_count!r} must equal the number '
        f'of {_keys.box_label_id!r} values'))
    checks.append(tf.debugging.assert_non_negative(
        context[_keys.box_label_count],
        message=f'{_keys.box_label_count!r} must be >= 0'))
    if self._use_flow:
      num_flow_x = tf.shape(sequence[_keys.flow_x_encoded])[0]
      num_flow_y = tf.shape(sequence[_keys.flow_y_encoded])[0]
      bound = context[_keys.flow_bound]
      checks.append(tf.debugging.Assert(
          tf.reduce_all(tf.stack([
              tf.equal(num_flow_x, num_stored),
              tf.equal(num_flow_y, num_stored), bound > 0.0])),
          [f'use_flow is set but the record lacks the optical flow: it needs '
           f'one {_keys.flow_x_encoded!r} and one {_keys.flow_y_encoded!r} '
           f'image per {_keys.frames_encoded!r} frame and a positive '
           f'{_keys.flow_bound!r}; found (flow x, flow y, frames, bound):',
           num_flow_x, num_flow_y, num_stored, bound]))
    return checks

  def _boxes(self, context):
    return tf.stack([context[_keys.box_ymin], context[_keys.box_xmin],
                     context[_keys.box_ymax], context[_keys.box_xmax]],
                    axis=1)

  def _track_ids(self, context, num_boxes):
    track_ids = tf.cast(context[_keys.box_track_id], tf.int32)
    return tf.cond(tf.equal(tf.size(track_ids), 0),
                   lambda: tf.fill([num_boxes], -1),
                   lambda: track_ids)

  def _multi_hot(self, context, num_boxes):
    """Multi-hot ``[N, num_classes]`` float32 from the ragged label lists."""
    label_ids = context[_keys.box_label_id]
    sorted_ids = tf.constant(self._label_ids, tf.int64)
    columns = tf.searchsorted(sorted_ids, label_ids)
    found = tf.equal(
        tf.gather(sorted_ids, tf.minimum(columns, self.num_classes - 1)),
        label_ids)
    check = tf.debugging.Assert(
        tf.reduce_all(found),
        [f'{_keys.box_label_id!r} holds ids that are not in the label map '
         f'{self._label_ids}:', tf.boolean_mask(label_ids, ~found)])
    with tf.control_dependencies([check]):
      rows = tf.repeat(tf.range(num_boxes),
                       tf.cast(context[_keys.box_label_count], tf.int32))
    one_hot = tf.one_hot(columns, self.num_classes, dtype=tf.float32)
    counts = tf.math.unsorted_segment_sum(one_hot, rows, num_boxes)
    return tf.minimum(counts, 1.0)

  def _flow(self, context, sequence, unique_indices, positions, frame_shape):
    """Dequantised flow ``[T, H, W, 2]`` in pixels per frame."""
    channels = []
    for key in (_keys.flow_x_encoded, _keys.flow_y_encoded):
      encoded = tf.gather(sequence[key], unique_indices)
      channels.append(tf.gather(_decode_jpegs(encoded, channels=1), positions))
    quantised = tf.cast(tf.concat(channels, axis=-1), tf.float32)
    bound = context[_keys.flow_bound]
    check = tf.debugging.assert_equal(
        tf.shape(quantised)[1:3], frame_shape,
        message=f'the flow images ({_keys.flow_x_encoded!r}) must have the '
        f'size of the frames ({_keys.frames_encoded!r})')
    with tf.control_dependencies([check]):
      flow = (quantised * (2.0 / 255.0) - 1.0) * bound
    flow.set_shape([self._frames_per_clip, None, None, 2])
    return flow


def _decode_jpegs(encoded: tf.Tensor, channels: int) -> tf.Tensor:
  """Decodes a vector of JPEG strings into uint8 ``[n, H, W, channels]``."""
  return tf.map_fn(
      lambda image: tf.io.decode_jpeg(image, channels=channels),
      encoded,
      fn_output_signature=tf.TensorSpec([None, None, channels], tf.uint8),
      parallel_iterations=8)
