"""Tiny models and a fixed two-clip batch shared by the model tests."""

import numpy as np
import tensorflow as tf
import tf_keras

from acrn_tf.builders import config_util
from acrn_tf.builders import model_builder
from acrn_tf.core import standard_fields as fields

NUM_FRAMES = 4
HEIGHT = 64
WIDTH = 64
NUM_CLASSES = 3

RELATION_CONFIGS = {
    'none': '',
    'resize_concat': 'relation_module { resize_concat {} }',
    'santoro': 'relation_module { santoro { num_units: 16 } }',
    'acrn': 'relation_module { acrn {} }',
}


def model_config_text(relation: str = 'acrn',
                      label_mode: str = 'MULTI_LABEL',
                      extra_head: str = '',
                      frozen_batch_norm: bool = False) -> str:
  """A pipeline `model` block: S3D-G x0.25, ResNet-18 x0.25, 64 x 64."""
  return f"""
model {{
  video_faster_rcnn {{
    feature_extractor {{
      depth_multiplier: 0.25
      min_depth: 8
      use_frozen_batch_norm: {str(frozen_batch_norm).lower()}
    }}
    actor_detector {{
      backbone {{ model_id: 18 depth_multiplier: 0.25
                  use_frozen_batch_norm: {str(frozen_batch_norm).lower()} }}
      anchor_generator {{ num_scales: 1 aspect_ratios: 1.0 anchor_size: 2.0 }}
      rpn {{ batch_size_per_image: 32 pre_nms_top_k_train: 64
             num_proposals_train: 8 pre_nms_top_k_eval: 64
             num_proposals_eval: 8 }}
    }}
    action_head {{
      num_classes: {NUM_CLASSES}
      label_mode: {label_mode}
      num_sampled_rois: 8
      foreground_fraction: 0.5
      max_detections: 8
      {extra_head}
    }}
    {RELATION_CONFIGS[relation]}
  }}
}}
"""


def build_model(relation: str = 'acrn', label_mode: str = 'MULTI_LABEL',
                extra_head: str = '', frozen_batch_norm: bool = False):
  """The tiny model of `model_config_text`, for 64 x 64 clips (seeded)."""
  tf_keras.utils.set_random_seed(0)
  config = config_util.parse_pipeline_config_text(
      model_config_text(relation, label_mode, extra_head, frozen_batch_norm))
  return model_builder.build(config.model, is_training=True,
                             image_size=(HEIGHT, WIDTH))


def two_clip_batch(seed: int = 0):
  """Two clips, two actors each, different labels per actor."""
  rng = np.random.default_rng(seed)
  frames = rng.uniform(0, 255, [2, NUM_FRAMES, HEIGHT, WIDTH, 3])
  boxes = np.array([[[0.1, 0.05, 0.7, 0.4], [0.3, 0.55, 0.95, 0.95]],
                    [[0.05, 0.5, 0.6, 0.9], [0.35, 0.05, 0.9, 0.45]]],
                   np.float32)
  classes = np.array([[[1, 0, 0], [0, 1, 1]], [[0, 0, 1], [1, 1, 0]]],
                     np.float32)
  inputs = fields.InputDataFields
  return {
      inputs.frames: tf.constant(frames, tf.float32),
      inputs.groundtruth_boxes: tf.constant(boxes),
      inputs.groundtruth_classes: tf.constant(classes),
      inputs.groundtruth_valid: tf.ones([2, 2], tf.bool),
      inputs.true_image_shape: tf.constant([[HEIGHT, WIDTH, 3]] * 2),
  }


def train_steps(model, batch, num_steps: int, learning_rate: float = 0.02,
                seed: int = 0, eager: bool = False):
  """Runs `num_steps` SGD steps on one batch; returns every step's losses.

  Random draws (ROI and anchor sampling, dropout) come from the stateless
  seed [seed, step], as in the trainer, so the run repeats. `eager` skips
  tracing (quicker for one or two steps).
  """
  optimizer = tf_keras.optimizers.SGD(learning_rate, momentum=0.9)

  @tf.function(autograph=False)
  def step():
    step_seed = tf.stack([tf.constant(seed, tf.int64),
                          tf.cast(optimizer.iterations, tf.int64)])
    with tf.GradientTape() as tape:
      predictions = model.predict(model.preprocess(batch), training=True,
                                  groundtruth=batch, seed=step_seed)
      losses = model.loss(predictions, batch)
    variables = model.trainable_variables
    gradients = tape.gradient(losses[fields.LossFields.total], variables)
    gradients, _ = tf.clip_by_global_norm(gradients, 10.0)
    optimizer.apply_gradients(zip(gradients, variables))
    return losses

  if eager:
    step = step.python_function
  history = []
  for _ in range(num_steps):
    history.append({k: float(v) for k, v in step().items()})
  return history
