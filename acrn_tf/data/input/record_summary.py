"""What a TFRecord file's first records hold: their clip, flow and labels.

Read before a model is built, so that a config asking for something the
records do not have (a clip they do not store, a flow stream, one label per
actor) is refused naming the file and the record keys, instead of failing
inside the input pipeline or the loss. Only the context and the number of
feature-list entries are parsed; no frame is decoded.
"""

import dataclasses
from typing import Tuple

import tensorflow as tf

from acrn_tf.core import standard_fields

_keys = standard_fields.SequenceExampleKeys

# Records read per file: enough to see a multi-label box in practice, few
# enough to cost well under a second.
DEFAULT_MAX_RECORDS = 100


class RecordSummaryError(ValueError):
  """A file that holds no readable keyframe record."""


@dataclasses.dataclass(frozen=True)
class RecordSummary:
  """The first record's clip and what the first records hold.

  Attributes:
    path: the file read.
    num_records: records read (at most the requested number).
    num_frames: stored frames of the first record's clip (clip/num_frames,
      else the frames/encoded entries).
    keyframe_index: the keyframe's index in that clip.
    frame_stride: video frames between two stored frames
      (clip/frame_stride; 0 when the record lacks it).
    fps: the source video's frame rate (video/fps; 0 when missing).
    has_flow: every record read stores the optical flow.
    max_labels_per_box: the most action labels on one box.
    box_sizes: (height, width) of every box read, normalised to the frame.
  """
  path: str
  num_records: int
  num_frames: int
  keyframe_index: int
  frame_stride: int
  fps: float
  has_flow: bool
  max_labels_per_box: int
  box_sizes: Tuple[Tuple[float, float], ...] = ()


def summarize(path: str,
              max_records: int = DEFAULT_MAX_RECORDS) -> RecordSummary:
  """Reads up to `max_records` records of one TFRecord file.

  Raises:
    RecordSummaryError: naming the file when it is empty or unreadable.
  """
  context_features = {
      _keys.num_frames: tf.io.FixedLenFeature([], tf.int64, default_value=-1),
      _keys.keyframe_index: tf.io.FixedLenFeature([], tf.int64,
                                                  default_value=-1),
      _keys.frame_stride: tf.io.FixedLenFeature([], tf.int64,
                                                default_value=0),
      _keys.fps: tf.io.FixedLenFeature([], tf.float32, default_value=0.0),
      _keys.box_label_count: tf.io.VarLenFeature(tf.int64),
  }
  for key in (_keys.box_ymin, _keys.box_xmin, _keys.box_ymax,
              _keys.box_xmax):
    context_features[key] = tf.io.VarLenFeature(tf.float32)
  sequence_features = {
      key: tf.io.FixedLenSequenceFeature([], tf.string, allow_missing=True)
      for key in (_keys.frames_encoded, _keys.flow_x_encoded,
                  _keys.flow_y_encoded)}
  first = None
  num_records, has_flow, max_labels, sizes = 0, True, 0, []
  try:
    for serialized in tf.data.TFRecordDataset(path).take(max_records):
      context, sequence = tf.io.parse_single_sequence_example(
          serialized, context_features=context_features,
          sequence_features=sequence_features)
      num_stored = int(tf.shape(sequence[_keys.frames_encoded])[0])
      has_flow = has_flow and num_stored > 0 and all(
          int(tf.shape(sequence[key])[0]) == num_stored
          for key in (_keys.flow_x_encoded, _keys.flow_y_encoded))
      counts = context[_keys.box_label_count].values.numpy()
      max_labels = max([max_labels] + [int(c) for c in counts])
      ymin, xmin, ymax, xmax = (
          context[key].values.numpy() for key in (
              _keys.box_ymin, _keys.box_xmin, _keys.box_ymax, _keys.box_xmax))
      sizes += [(float(h), float(w))
                for h, w in zip(ymax - ymin, xmax - xmin)]
      if first is None:
        num_frames = int(context[_keys.num_frames])
        first = dict(
            num_frames=num_frames if num_frames >= 0 else num_stored,
            keyframe_index=int(context[_keys.keyframe_index]),
            frame_stride=int(context[_keys.frame_stride]),
            fps=float(context[_keys.fps]))
      num_records += 1
  except tf.errors.OpError as e:
    raise RecordSummaryError(
        f'{path}: cannot read keyframe records: '
        f'{str(e).strip().splitlines()[0]}') from None
  if first is None:
    raise RecordSummaryError(f'{path}: holds no records')
  return RecordSummary(path=path, num_records=num_records, has_flow=has_flow,
                       max_labels_per_box=max_labels,
                       box_sizes=tuple(sizes), **first)
