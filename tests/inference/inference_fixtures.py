"""A tiny hand-made export directory and fixture videos for inference tests.

The export's `serving_default` follows the exporter's contract (input
`input_tensor` of one of three types, outputs named by
DetectionResultFields with a batch dim of 1) and returns fixed outputs
chosen here: 3 detection rows of which the first 2 are valid.
"""

import os

import numpy as np
import tensorflow as tf

from acrn_tf.core import standard_fields
from acrn_tf.data import label_map_util
from tests.data.conversion import conversion_fixtures

_det = standard_fields.DetectionResultFields

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TINY_CONFIG = os.path.join(REPO, 'configs', 'synthetic', 'acrn_tiny.config')
LABELS = {1: 'catch', 2: 'throw', 3: 'pass', 4: 'hold', 5: 'look at',
          6: 'idle'}
FRAMES_PER_CLIP = 8  # acrn_tiny.config's eval_input_reader
HEIGHT, WIDTH, FPS, NUM_FRAMES = 48, 64, 10, 30

BOXES = np.array([[0.1, 0.2, 0.5, 0.6], [0.3, 0.1, 0.9, 0.4],
                  [0.0, 0.0, 0.0, 0.0]], np.float32)
MULTICLASS = np.array([[0.9, 0.05, 0.6, 0.0, 0.0, 0.0],
                       [0.1, 0.0, 0.0, 0.0, 0.0, 0.7],
                       [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]], np.float32)
SCORES = np.array([0.9, 0.7, 0.0], np.float32)
CLASSES = np.array([1, 6, 0], np.float32)
NUM_DETECTIONS = 2
HEATMAPS = np.stack([np.arange(20, dtype=np.float32).reshape(4, 5),
                     np.arange(20, dtype=np.float32)[::-1].reshape(4, 5),
                     np.zeros((4, 5), np.float32)])


def fixed_outputs(with_heatmaps: bool = True):
  """The export's outputs, batch dim 1, as constants."""
  outputs = {
      _det.detection_boxes: tf.constant(BOXES[None]),
      _det.detection_scores: tf.constant(SCORES[None]),
      _det.detection_classes: tf.constant(CLASSES[None]),
      _det.detection_multiclass_scores: tf.constant(MULTICLASS[None]),
      _det.num_detections: tf.constant([float(NUM_DETECTIONS)]),
  }
  if with_heatmaps:
    outputs[_det.relation_heatmaps] = tf.constant(HEATMAPS[None])
  return outputs


class _Served(tf.Module):
  """The saved object; its `serve` function is attached by `write_export`."""


def _serving_function(input_type: str, with_flow: bool, unknown_rank: bool,
                      with_heatmaps: bool = True):
  if input_type == 'video_tensor':
    specs = [tf.TensorSpec([1, None, None, None, 3], tf.uint8,
                           name='input_tensor')]
    if with_flow:
      specs.append(tf.TensorSpec([1, None, None, None, 2], tf.float32,
                                 name='flow'))

      def serve(input_tensor, flow):
        check = tf.debugging.assert_equal(
            tf.shape(flow)[:4], tf.shape(input_tensor)[:4],
            message='flow: frames and flow differ in shape')
        with tf.control_dependencies([check]):
          return _checked(tf.shape(input_tensor)[1], with_heatmaps)
    else:
      def serve(input_tensor):
        return _checked(tf.shape(input_tensor)[1], with_heatmaps)
  elif input_type == 'encoded_frames':
    specs = [tf.TensorSpec(None if unknown_rank else [None], tf.string,
                           name='input_tensor')]

    def serve(input_tensor):
      frames = tf.map_fn(
          lambda image: tf.io.decode_jpeg(image, channels=3), input_tensor,
          fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8))
      return _checked(tf.shape(frames)[0], with_heatmaps)
  else:
    specs = [tf.TensorSpec(None if unknown_rank else [1], tf.string,
                           name='input_tensor')]

    def serve(input_tensor):
      parsed = tf.io.parse_single_sequence_example(
          tf.reshape(input_tensor, []),
          sequence_features={'frames': tf.io.FixedLenSequenceFeature(
              [], tf.string)})[1]
      return _checked(tf.shape(parsed['frames'])[0], with_heatmaps)
  return tf.function(serve, input_signature=specs, autograph=False)


def _checked(num_frames, with_heatmaps=True):
  check = tf.debugging.assert_equal(
      num_frames, FRAMES_PER_CLIP,
      message=f'input_tensor: expected {FRAMES_PER_CLIP} frames')
  with tf.control_dependencies([check]):
    return {key: tf.identity(value, name=key)
            for key, value in fixed_outputs(with_heatmaps).items()}


def write_export(directory: str, input_type: str = 'video_tensor',
                 with_flow: bool = False, unknown_rank: bool = False,
                 signature: bool = True, with_heatmaps: bool = True) -> str:
  """Writes saved_model/, pipeline.config and label_map.pbtxt; returns dir.

  Args:
    directory: the export directory (created).
    input_type: video_tensor, encoded_frames or tf_example.
    with_flow: the config's extractor has RGB and flow streams (and a
      video_tensor signature takes `flow`).
    unknown_rank: string inputs get an unknown shape, as the exporter
      writes them.
    signature: False saves the module without a serving signature.
    with_heatmaps: the signature returns relation_heatmaps (as ACRN's).
  """
  os.makedirs(directory, exist_ok=True)
  module = _Served()
  module.serve = _serving_function(input_type, with_flow, unknown_rank,
                                   with_heatmaps)
  signatures = ({'serving_default': module.serve.get_concrete_function()}
                if signature else {})
  tf.saved_model.save(module, os.path.join(directory, 'saved_model'),
                      signatures=signatures)
  with open(TINY_CONFIG, encoding='utf-8') as f:
    text = f.read()
  if with_flow:
    assert 'streams: RGB\n' in text
    text = text.replace('streams: RGB\n', 'streams: RGB_AND_FLOW\n')
  with open(os.path.join(directory, 'pipeline.config'), 'w',
            encoding='utf-8') as f:
    f.write(text)
  label_map_util.write_label_map(os.path.join(directory, 'label_map.pbtxt'),
                                 LABELS)
  return directory


def write_video(path: str, num_frames: int = NUM_FRAMES, fps: int = FPS,
                height: int = HEIGHT, width: int = WIDTH) -> str:
  """A fixture video whose frame t shows t in binary (conversion_fixtures).
  """
  return conversion_fixtures.write_video(path, num_frames, fps, height, width)


frame_number_in = conversion_fixtures.frame_number_in
make_frames = conversion_fixtures.make_frames
