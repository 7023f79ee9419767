"""Tiny keyframe SequenceExamples for the input-pipeline tests.

Built directly from the schema in `standard_fields.SequenceExampleKeys`, so
the reader is tested against the documented contract rather than against the
converter's writer.
"""

import os
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from acrn_tf.core import standard_fields

_keys = standard_fields.SequenceExampleKeys

HEIGHT = 32
WIDTH = 48
FLOW_BOUND = 20.0


def make_frames(num_frames: int, height: int = HEIGHT, width: int = WIDTH,
                offset: int = 0) -> np.ndarray:
  """Smooth RGB frames (uint8 [T, H, W, 3]) that survive JPEG well.

  Frame t has a brightness proportional to t, so frames can be told apart.
  """
  y = np.linspace(0.0, 1.0, height)[:, None]
  x = np.linspace(0.0, 1.0, width)[None, :]
  frames = []
  for t in range(num_frames):
    level = 20.0 + 10.0 * (t + offset)
    red = level + 60.0 * x + 0.0 * y
    green = level + 60.0 * y + 0.0 * x
    blue = np.full((height, width), 200.0 - level)
    frames.append(np.stack([red, green, blue], axis=-1))
  return np.clip(np.round(np.stack(frames)), 0, 255).astype(np.uint8)


def make_quantised_flow(num_frames: int, height: int = HEIGHT,
                        width: int = WIDTH) -> np.ndarray:
  """Smooth quantised flow levels, uint8 [T, H, W, 2] (x, y)."""
  y = np.linspace(0.0, 1.0, height)[:, None]
  x = np.linspace(0.0, 1.0, width)[None, :]
  flows = []
  for t in range(num_frames):
    flow_x = 60.0 + 100.0 * x + 0.0 * y + 5.0 * t
    flow_y = 200.0 - 80.0 * y + 0.0 * x - 5.0 * t
    flows.append(np.stack([flow_x, flow_y], axis=-1))
  return np.clip(np.round(np.stack(flows)), 0, 255).astype(np.uint8)


def dequantise(quantised: np.ndarray, bound: float = FLOW_BOUND) -> np.ndarray:
  """The schema's mapping from 8-bit levels back to pixels per frame."""
  return (quantised.astype(np.float64) / 255.0 * 2.0 - 1.0) * bound


def encode_jpeg(image: np.ndarray, quality: int = 95) -> bytes:
  return tf.io.encode_jpeg(image, quality=quality).numpy()


def sequence_example(frames: np.ndarray,
                     boxes: Sequence[Sequence[float]],
                     labels: Sequence[Sequence[int]],
                     track_ids: Optional[Sequence[int]] = None,
                     keyframe_index: int = 0,
                     video_id: str = 'video_a',
                     keyframe_timestamp: float = 902.0,
                     quantised_flow: Optional[np.ndarray] = None,
                     flow_bound: float = FLOW_BOUND,
                     frame_stride: int = 1) -> bytes:
  """Serializes one keyframe record per the documented schema.

  `frame_stride` is the record's clip/frame_stride (video frames between
  stored frames).
  """
  example = tf.train.SequenceExample()
  context = example.context.feature
  num_frames, height, width = frames.shape[:3]
  context[_keys.video_id].bytes_list.value.append(video_id.encode())
  context[_keys.keyframe_timestamp].float_list.value.append(
      keyframe_timestamp)
  context[_keys.keyframe_frame_number].int64_list.value.append(
      int(keyframe_timestamp * 30))
  context[_keys.keyframe_index].int64_list.value.append(keyframe_index)
  context[_keys.frame_height].int64_list.value.append(height)
  context[_keys.frame_width].int64_list.value.append(width)
  context[_keys.num_frames].int64_list.value.append(num_frames)
  context[_keys.frame_stride].int64_list.value.append(frame_stride)
  context[_keys.fps].float_list.value.append(30.0)
  context[_keys.frame_timestamps].float_list.value.extend(
      keyframe_timestamp + (t - keyframe_index) / 30.0
      for t in range(num_frames))
  for i, key in enumerate((_keys.box_ymin, _keys.box_xmin, _keys.box_ymax,
                           _keys.box_xmax)):
    context[key].float_list.value.extend(b[i] for b in boxes)
  if track_ids is not None:
    context[_keys.box_track_id].int64_list.value.extend(track_ids)
  context[_keys.box_label_count].int64_list.value.extend(
      len(box_labels) for box_labels in labels)
  context[_keys.box_label_id].int64_list.value.extend(
      label for box_labels in labels for label in box_labels)
  feature_lists = example.feature_lists.feature_list
  for frame in frames:
    feature_lists[_keys.frames_encoded].feature.add().bytes_list.value.append(
        encode_jpeg(frame))
  if quantised_flow is not None:
    context[_keys.flow_bound].float_list.value.append(flow_bound)
    for channel, key in enumerate((_keys.flow_x_encoded,
                                   _keys.flow_y_encoded)):
      for flow in quantised_flow:
        feature_lists[key].feature.add().bytes_list.value.append(
            encode_jpeg(flow[..., channel:channel + 1], quality=100))
  return example.SerializeToString()


# Three actors: box 0 has labels {1, 3}, box 1 {2}, box 2 {1, 2, 6}.
BOXES = ((0.1, 0.2, 0.5, 0.4), (0.3, 0.5, 0.9, 0.75), (0.0, 0.0, 0.25, 0.25))
LABELS = ((1, 3), (2,), (1, 2, 6))
TRACK_IDS = (7, 8, 9)
LABEL_IDS = (1, 2, 3, 6)


def write_records(directory: str, num_shards: int = 2,
                  examples_per_shard: int = 3, num_frames: int = 5,
                  with_flow: bool = False, prefix: str = 'train') -> str:
  """Writes shards of tiny records; returns a glob matching them.

  Example k (over all shards) has video id ``video_k`` and keyframe timestamp
  ``900 + k``; its keyframe is the middle stored frame.
  """
  os.makedirs(directory, exist_ok=True)
  k = 0
  for shard in range(num_shards):
    path = os.path.join(directory,
                        f'{prefix}-{shard:05d}-of-{num_shards:05d}.tfrecord')
    with tf.io.TFRecordWriter(path) as writer:
      for _ in range(examples_per_shard):
        frames = make_frames(num_frames, offset=k % 3)
        flow = make_quantised_flow(num_frames) if with_flow else None
        writer.write(sequence_example(
            frames, BOXES[:1 + k % 3], LABELS[:1 + k % 3],
            TRACK_IDS[:1 + k % 3], keyframe_index=num_frames // 2,
            video_id=f'video_{k}', keyframe_timestamp=900.0 + k,
            quantised_flow=flow))
        k += 1
  return os.path.join(directory, f'{prefix}-?????-of-?????.tfrecord')
