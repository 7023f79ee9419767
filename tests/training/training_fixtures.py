"""A tiny synthetic dataset converted to records, a config to train on it,
and the smallest training step's config and batch (built in process).

The dataset goes through the same tools a user runs (the synthetic
generator, then the AVA converter), as subprocesses.
"""

import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

from acrn_tf.builders import config_util
from acrn_tf.core import standard_fields as fields
from acrn_tf.protos import s3dg_pb2
from acrn_tf.protos import train_pb2

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TOOLS = os.path.join(REPO, 'tools')
LOSS_NAMES = (fields.LossFields.rpn_objectness,
              fields.LossFields.rpn_localization,
              fields.LossFields.classification,
              fields.LossFields.localization,
              fields.LossFields.regularization, fields.LossFields.total)


def env():
  """Environment of tool subprocesses: quiet TensorFlow, repo importable."""
  environment = dict(os.environ)
  environment['TF_CPP_MIN_LOG_LEVEL'] = '2'
  environment['PYTHONPATH'] = REPO
  return environment


def make_records(root: str) -> dict:
  """Writes 2 train and 1 val synthetic videos as records; returns paths."""
  data = os.path.join(root, 'data')
  subprocess.run(
      [sys.executable, os.path.join(TOOLS, 'make_synthetic_dataset.py'),
       '--output_dir', data, '--preset', 'tiny', '--num_train_videos', '2',
       '--num_val_videos', '1', '--num_test_videos', '1'],
      check=True, env=env(), capture_output=True)
  annotations = os.path.join(data, 'annotations')
  records = os.path.join(root, 'records')
  for split in ('train', 'val'):
    subprocess.run(
        [sys.executable, os.path.join(TOOLS, 'create_ava_tf_record.py'),
         '--videos_dir', os.path.join(data, 'videos'),
         '--annotation_csv', os.path.join(annotations, f'{split}.csv'),
         '--label_map_path', os.path.join(annotations, 'label_map.pbtxt'),
         '--output_path', os.path.join(records, split),
         '--frames_per_clip', '4', '--num_shards', '1'],
      check=True, env=env(), capture_output=True)
  return {
      'train': os.path.join(records, 'train-*'),
      'val': os.path.join(records, 'val-*'),
      'label_map': os.path.join(annotations, 'label_map.pbtxt'),
  }


def overrides(paths: dict, num_steps: int = 4) -> list:
  """key=value overrides shrinking the tiny config onto `paths`' records."""
  values = [
      f'train_input_reader.tf_record_input_reader.input_path={paths["train"]}',
      f'eval_input_reader.tf_record_input_reader.input_path={paths["val"]}',
      f'train_input_reader.label_map_path={paths["label_map"]}',
      f'eval_input_reader.label_map_path={paths["label_map"]}',
      f'train_config.num_steps={num_steps}',
      'train_config.batch_size=2',
      'train_config.checkpoint_every_n=2',
      'train_config.steps_per_loop=2',
      'train_config.summary_every_n=2',
      'train_config.seed=3',
      'eval_config.batch_size=2',
      'eval_config.num_examples=4',
      'eval_config.num_visualizations=2',
  ]
  for reader in ('train_input_reader', 'eval_input_reader'):
    values += [f'{reader}.frames_per_clip=4', f'{reader}.image_height=64',
               f'{reader}.image_width=64']
  # Actors of about 20 x 11 pixels at 64 x 64: anchors half the config's
  # (16 to 32 pixels) fit them, as input validation demands.
  values.append('model.video_faster_rcnn.actor_detector.anchor_generator.'
                'anchor_size=1.0')
  return values


def load_config(paths: dict, num_steps: int = 4, extra=()):
  return config_util.load_pipeline_config(
      os.path.join(REPO, 'configs', 'synthetic', 'acrn_tiny.config'),
      overrides=overrides(paths, num_steps) + list(extra))


# ------------------------------------ the smallest step, built in process

_NUM_FRAMES, _IMAGE_SIZE = 4, 64
_NUM_PROPOSALS, _NUM_BOXES = 8, 2
# A 64x64 keyframe at level 4 (stride 16) with 2 scales x 2 ratios.
_NUM_ANCHORS = 4 * 4 * 4


def tiny_step_config(relation: str, use_flow: bool = False,
                     mixed_precision: str = 'FLOAT32',
                     learning_rate: float = 1.0):
  """The tiny config at its smallest, with every random draw irrelevant.

  A step compiled with XLA draws another Philox stream than the same step
  without (stateless_sampling), so the XLA and plain steps are compared
  where the draws decide nothing: the ROI sampler keeps every candidate
  (num_sampled_rois = proposals + ground truth slots, all positives
  allowed), the RPN loss takes every labelled anchor and there is no
  dropout. The learning rate is constant (at 1, a weight's change is
  minus its gradient: there is no clipping).

  Args:
    relation: the relation module: none, resize_concat, santoro or acrn.
    use_flow: RGB and flow streams instead of RGB.
    mixed_precision: a TrainConfig.MixedPrecision name.
    learning_rate: the constant learning rate.
  """
  config = config_util.read_pipeline_config(
      os.path.join(REPO, 'configs', 'synthetic', 'acrn_tiny.config'))
  model = config.model.video_faster_rcnn
  if relation == 'none':
    model.ClearField('relation_module')
  else:
    getattr(model.relation_module, relation).SetInParent()
  if use_flow:
    model.feature_extractor.streams = (
        s3dg_pb2.S3dgFeatureExtractor.RGB_AND_FLOW)
  rpn = model.actor_detector.rpn
  rpn.num_proposals_train = _NUM_PROPOSALS
  rpn.num_proposals_eval = _NUM_PROPOSALS
  rpn.pre_nms_top_k_train = rpn.pre_nms_top_k_eval = _NUM_ANCHORS
  rpn.batch_size_per_image = _NUM_ANCHORS
  rpn.positive_fraction = 1.0
  head = model.action_head
  head.num_sampled_rois = _NUM_PROPOSALS + _NUM_BOXES
  head.foreground_fraction = 1.0
  head.max_detections = _NUM_PROPOSALS
  for reader in [config.train_input_reader, *config.eval_input_reader]:
    reader.frames_per_clip = _NUM_FRAMES
    reader.image_height = reader.image_width = _IMAGE_SIZE
    reader.max_num_boxes = _NUM_BOXES
    reader.use_flow = use_flow
  train = config.train_config
  train.batch_size = 1
  train.gradient_clipping_by_norm = 0.0
  train.optimizer.momentum_optimizer.learning_rate.constant_learning_rate \
      .learning_rate = learning_rate
  train.mixed_precision = train_pb2.TrainConfig.MixedPrecision.Value(
      mixed_precision)
  config_util.validate(config, source=f'tiny {relation}')
  return config


def tiny_batch(config, seed: int = 0):
  """A training batch of the config's sizes: random clip, 2 boxes."""
  reader = config.train_input_reader
  rng = np.random.default_rng(seed)
  shape = [1, reader.frames_per_clip, reader.image_height,
           reader.image_width]
  num_classes = config.model.video_faster_rcnn.action_head.num_classes
  batch = {
      fields.InputDataFields.frames: tf.constant(
          rng.integers(0, 256, shape + [3]), tf.uint8),
      fields.InputDataFields.groundtruth_boxes: tf.constant(
          [[[0.1, 0.1, 0.7, 0.5], [0.3, 0.4, 0.9, 0.9]]], tf.float32),
      fields.InputDataFields.groundtruth_classes: tf.constant(
          np.eye(num_classes)[[[1, 4]]], tf.float32),
      fields.InputDataFields.groundtruth_valid: tf.constant([[True, True]]),
      fields.InputDataFields.true_image_shape: tf.constant(
          [[reader.image_height, reader.image_width, 3]], tf.int32),
      # A string feature, as the input pipeline gives: kept out of XLA.
      fields.InputDataFields.video_id: tf.constant([b'video']),
  }
  if reader.use_flow:
    batch[fields.InputDataFields.flow] = tf.constant(
        rng.normal(0.0, 2.0, shape + [2]), tf.float32)
  return batch
