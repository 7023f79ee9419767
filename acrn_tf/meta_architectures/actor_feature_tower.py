"""The actor feature tower: inflate, Mixed_5b/5c, average pool.

Paper 3.1: each actor's 7 x 7 x 832 crop of F is inflated back to 3D, runs
through S3D-G's Mixed_5b and Mixed_5c, and is average-pooled to the actor
feature f_a (1 x 1 x 1024). This is one part of the second stage that the
`ActionHead` proto configures (with the classifier, the box regressor and
the ROI sampling, which the meta-architecture holds); the model keeps it as
its `actor_head` attribute and the layer keeps the name `action_head`, so
checkpoints are unchanged.
"""

from typing import Optional

import tensorflow as tf
import tf_keras

from acrn_tf.models import s3dg


@tf_keras.utils.register_keras_serializable(package='acrn_tf')
class ActorFeatureTower(tf_keras.layers.Layer):
  """Per-ROI crops [B, R, (t,) k, k, c] -> pooled features [B, R, d]."""

  def __init__(self, inflated_time_steps: int = 1, return_maps: bool = False,
               **head_kwargs):
    """Initialises the head.

    Args:
      inflated_time_steps: a 2D crop is tiled this many times along time
        before Mixed_5b.
      return_maps: also return the map before pooling (for CAM).
      **head_kwargs: arguments of `s3dg.S3DGHead` (depth multiplier, gating,
        batch norm, name, ...).
    """
    name = head_kwargs.pop('name', None)
    super().__init__(name=name)
    if inflated_time_steps < 1:
      raise ValueError('inflated_time_steps must be >= 1, got '
                       f'{inflated_time_steps}')
    self._config_dict = dict(inflated_time_steps=inflated_time_steps,
                             return_maps=return_maps, **head_kwargs)
    self.head = s3dg.S3DGHead(**head_kwargs)

  @property
  def output_channels(self) -> int:
    return self.head.output_channels

  def call(self, crops: tf.Tensor, training: Optional[bool] = None):
    """Runs the head on every ROI.

    Args:
      crops: float32 [batch, num_rois, k, k, c] (inflated here) or
        [batch, num_rois, t, k, k, c].
      training: training mode.

    Returns:
      features [batch, num_rois, d]; with return_maps also the maps averaged
      over time, [batch, num_rois, k', k', d].
    """
    if crops.shape.rank == 5:
      crops = tf.tile(crops[:, :, tf.newaxis],
                      [1, 1, self._config_dict['inflated_time_steps'], 1, 1,
                       1])
    batch_size, num_rois = tf.shape(crops)[0], tf.shape(crops)[1]
    static = crops.shape.as_list()
    flat = tf.reshape(crops, [-1] + static[2:])
    maps = self.head(flat, training=training)
    maps = tf.reduce_mean(maps, axis=1)  # over time: [B*R, k', k', d]
    features = tf.reduce_mean(maps, axis=[1, 2])
    features = tf.reshape(features, [batch_size, num_rois,
                                     self.output_channels])
    if not self._config_dict['return_maps']:
      return features
    map_shape = maps.shape.as_list()[1:]
    maps = tf.reshape(maps, tf.concat([[batch_size, num_rois], map_shape], 0))
    return features, maps

  def get_config(self):
    config = super().get_config()
    config.update(self._config_dict)
    return config
