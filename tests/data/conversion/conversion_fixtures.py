"""Tiny videos, csvs and a record parser for the converter tests.

Frame t of a fixture video carries t in binary in its top quarter: six
blocks, block i white when bit i of t is set, black otherwise, which
survives video and JPEG compression and resizing. Below is a gray
background with a white square moving one pixel a frame.
"""

import os
from typing import Dict, List, Sequence

import cv2
import numpy as np
import tensorflow as tf

from acrn_tf.core import standard_fields

_keys = standard_fields.SequenceExampleKeys

HEIGHT = 32
WIDTH = 48
FPS = 10
NUM_FRAMES = 36
_BITS = 6


def make_frames(num_frames: int = NUM_FRAMES, height: int = HEIGHT,
                width: int = WIDTH) -> np.ndarray:
  """uint8 RGB [T, H, W, 3] fixture frames (see the module docstring)."""
  frames = np.full((num_frames, height, width, 3), 96, np.uint8)
  block = width // _BITS
  for t in range(num_frames):
    for bit in range(_BITS):
      frames[t, :height // 4, bit * block:(bit + 1) * block] = (
          255 if (t >> bit) & 1 else 0)
    column = 4 + t % (width - 12)
    frames[t, height // 2:height // 2 + 8, column:column + 8] = 255
  return frames


def frame_number_in(image: np.ndarray) -> int:
  """Reads the frame index written by `make_frames` (any size, RGB)."""
  height, width = image.shape[:2]
  row = image[height // 8, :, 0].astype(np.float64)
  number = 0
  for bit in range(_BITS):
    centre = int((bit + 0.5) * width / _BITS)
    if row[centre] > 128:
      number |= 1 << bit
  return number


def write_video(path: str, num_frames: int = NUM_FRAMES, fps: int = FPS,
                height: int = HEIGHT, width: int = WIDTH) -> str:
  """Writes the fixture video (.mp4 as mp4v, .avi as MJPG); returns path."""
  fourcc = 'MJPG' if path.endswith('.avi') else 'mp4v'
  os.makedirs(os.path.dirname(path), exist_ok=True)
  writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), float(fps),
                           (width, height))
  assert writer.isOpened(), path
  for frame in make_frames(num_frames, height, width):
    writer.write(np.ascontiguousarray(frame[..., ::-1]))
  writer.release()
  return path


def write_frame_dir(path: str, num_frames: int = 12) -> str:
  """Writes frames 1.png .. N.png (unpadded, to test natural order)."""
  os.makedirs(path, exist_ok=True)
  for t, frame in enumerate(make_frames(num_frames)):
    cv2.imwrite(os.path.join(path, f'{t + 1}.png'), frame[..., ::-1])
  return path


def frame_number_of(jpeg: bytes) -> int:
  """The fixture frame index shown by a JPEG-encoded frame."""
  return frame_number_in(tf.io.decode_jpeg(jpeg, channels=3).numpy())


def write_text(path: str, text: str) -> str:
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, 'w', encoding='utf-8') as f:
    f.write(text)
  return path


ITEM_LABEL_MAP = ('item {\n  name: "stand"\n  id: 1\n}\n'
                  'item {\n  name: "talk"\n  id: 2\n}\n'
                  'item {\n  name: "wave"\n  id: 4\n}\n')
AVA_LABEL_MAP = ('label {\n  name: "stand"\n  label_id: 1\n'
                 '  label_type: PERSON_MOVEMENT\n}\n'
                 'label {\n  name: "talk"\n  label_id: 2\n'
                 '  label_type: PERSON_INTERACTION\n}\n'
                 'label {\n  name: "wave"\n  label_id: 4\n'
                 '  label_type: PERSON_MOVEMENT\n}\n')


def parse_record(serialized: bytes) -> Dict:
  """Parses one record with tf.io into a dict of numpy values by key."""
  context_features = {
      _keys.video_id: tf.io.FixedLenFeature([], tf.string),
      _keys.keyframe_timestamp: tf.io.FixedLenFeature([], tf.float32),
      _keys.keyframe_frame_number: tf.io.FixedLenFeature([], tf.int64),
      _keys.keyframe_index: tf.io.FixedLenFeature([], tf.int64),
      _keys.frame_height: tf.io.FixedLenFeature([], tf.int64),
      _keys.frame_width: tf.io.FixedLenFeature([], tf.int64),
      _keys.num_frames: tf.io.FixedLenFeature([], tf.int64),
      _keys.frame_stride: tf.io.FixedLenFeature([], tf.int64),
      _keys.fps: tf.io.FixedLenFeature([], tf.float32),
      _keys.frame_timestamps: tf.io.VarLenFeature(tf.float32),
      _keys.box_ymin: tf.io.VarLenFeature(tf.float32),
      _keys.box_xmin: tf.io.VarLenFeature(tf.float32),
      _keys.box_ymax: tf.io.VarLenFeature(tf.float32),
      _keys.box_xmax: tf.io.VarLenFeature(tf.float32),
      _keys.box_track_id: tf.io.VarLenFeature(tf.int64),
      _keys.box_label_count: tf.io.VarLenFeature(tf.int64),
      _keys.box_label_id: tf.io.VarLenFeature(tf.int64),
      _keys.flow_bound: tf.io.FixedLenFeature([], tf.float32,
                                              default_value=-1.0),
  }
  sequence_features = {
      key: tf.io.FixedLenSequenceFeature([], tf.string, allow_missing=True)
      for key in (_keys.frames_encoded, _keys.flow_x_encoded,
                  _keys.flow_y_encoded)}
  context, sequence = tf.io.parse_single_sequence_example(
      serialized, context_features=context_features,
      sequence_features=sequence_features)
  result = {}
  for key, value in list(context.items()) + list(sequence.items()):
    if isinstance(value, tf.sparse.SparseTensor):
      value = tf.sparse.to_dense(value)
    result[key] = value.numpy()
  result['boxes'] = np.stack([result[_keys.box_ymin], result[_keys.box_xmin],
                              result[_keys.box_ymax], result[_keys.box_xmax]],
                             axis=1)
  counts = result[_keys.box_label_count]
  ids = list(result[_keys.box_label_id])
  labels, start = [], 0
  for count in counts:
    labels.append(tuple(int(i) for i in ids[start:start + count]))
    start += count
  result['labels'] = labels
  return result


def read_records(paths: Sequence[str]) -> List[Dict]:
  """Parses every record of the given files, in order."""
  return [parse_record(r.numpy()) for r in tf.data.TFRecordDataset(
      list(paths))]


def keyframe_keys(records: Sequence[Dict]) -> List[tuple]:
  """(video id, timestamp rounded to ms: it is a float32) of each record."""
  return [(r[_keys.video_id].decode(),
           round(float(r[_keys.keyframe_timestamp]), 3)) for r in records]
