"""Resize+Concat (paper 4.2, table 1a): the scene map beside each actor crop.

The scene maps are resized to the ROI crop's k x k, concatenated channel-wise
with each actor's crop of F (normalised and rescaled cell by cell as paper
4.2 says, see `normalization`), and a 1 x 1 convolution brings the channels
back to the crop's c. The result replaces the crop as the classification
head's input (Mixed_5b/5c); no relation feature is added to f_a.

The 1 x 1 convolution starts as the projection onto the crop's channels (the
scene channels' weights are zero, the crop's are the identity times the
inverse of the rescale), so at initialisation the model equals the
Base-Model and the pretrained head sees the input it was trained on.
"""

import math
from typing import Mapping, Optional

import numpy as np
import tensorflow as tf
import tf_keras

from acrn_tf.models import s3dg_layers
from acrn_tf.relation import normalization
from acrn_tf.relation import relation_module


@tf_keras.utils.register_keras_serializable(package='acrn_tf')
class CropPassThroughInitializer(tf_keras.initializers.Initializer):
  """Kernel [c + c_s, c] = [gain * I; 0]: keeps the first c channels only."""

  def __init__(self, gain: float = 1.0):
    self.gain = float(gain)

  def __call__(self, shape, dtype=None, **kwargs):
    shape = list(shape)
    if len(shape) != 2 or shape[0] < shape[1]:
      raise ValueError('CropPassThroughInitializer needs a [c + c_s, c] '
                       f'kernel, got {shape}.')
    value = np.zeros(shape, np.float32)
    value[:shape[1]] = self.gain * np.eye(shape[1], dtype=np.float32)
    return tf.constant(value, dtype=dtype or tf.float32)

  def get_config(self):
    return {'gain': self.gain}


@tf_keras.utils.register_keras_serializable(package='acrn_tf')
class ResizeConcat(relation_module.RelationModule):
  """Concatenates the resized scene maps to each crop before the head."""

  def __init__(self, weight_decay: float = 0.0, **kwargs):
    """Initialises the module.

    Args:
      weight_decay: slim-style L2 weight decay of the 1 x 1 convolution.
      **kwargs: `RelationModule` arguments (scene_features,
        gradient_multiplier, normalize_and_rescale) and Layer keywords.

    Raises:
      ValueError: actor_feature_in_g_theta=False (there is no g_theta: the
        crop itself is what is concatenated).
    """
    kwargs.setdefault('name', 'resize_concat')
    super().__init__(**kwargs)
    if not self.actor_feature_in_g_theta:
      raise ValueError(f'{self.name}: actor_feature_in_g_theta=False needs a '
                       'module with g_theta (santoro, acrn); Resize+Concat '
                       'concatenates the scene to the actor crop itself.')
    self._config_dict['weight_decay'] = weight_decay
    self._conv = None

  def _reduction_conv(self, channels: int) -> tf_keras.layers.Layer:
    """The 1 x 1 convolution to `channels` (created on first use)."""
    if self._conv is None:
      gain = 1.0
      if self.normalize_and_rescale:
        gain = math.sqrt(len(self.scene_features) + 1.0)
      self._conv = tf_keras.layers.Dense(
          channels, use_bias=True,
          kernel_initializer=CropPassThroughInitializer(gain),
          kernel_regularizer=s3dg_layers.l2_regularizer(
              self._config_dict['weight_decay']),
          name='conv_1x1')
    return self._conv

  def head_inputs(self, roi_crops: tf.Tensor, actor_boxes: tf.Tensor,
                  scene_maps: Mapping[str, tf.Tensor],
                  training: Optional[bool] = None) -> tf.Tensor:
    """Each crop concatenated with the resized scene, reduced to c channels.

    Args:
      roi_crops: float32 [batch, num_boxes, k, k, c] ROI crops of F, or
        [batch, num_boxes, t, k, k, c] (the scene is tiled over t).
      actor_boxes: float32 [batch, num_boxes, 4] (unused: the crop already
        is the actor).
      scene_maps: dict endpoint -> float32 [batch, h, w, c_e].
      training: unused.

    Returns:
      float32 shaped like `roi_crops`.
    """
    del actor_boxes, training
    rank = roi_crops.shape.rank
    if rank not in (5, 6) or roi_crops.shape[-1] is None:
      raise ValueError(f'{self.name}: roi_crops must be [batch, num_boxes, '
                       '(t,) k, k, c] with c known, got shape '
                       f'{roi_crops.shape}.')
    crop_size = (roi_crops.shape[-3], roi_crops.shape[-2])
    if None in crop_size:
      crop_size = tuple(tf.unstack(tf.shape(roi_crops)[-3:-1]))
    maps = self.gather_scene_maps(scene_maps, output_size=crop_size)
    # Under a mixed-precision policy the crops (ROI-aligned in float32) and
    # the scene maps (16-bit) differ in dtype; they are joined in the crops'.
    maps = [tf.cast(m, roi_crops.dtype) for m in maps]
    crops = roi_crops
    if self.normalize_and_rescale:
      scale = normalization.rescale_factor(crops, len(maps))[..., None]
      crops = scale * normalization.l2_normalize_channels(crops)
      maps = [normalization.l2_normalize_channels(m) for m in maps]
    else:
      scale = tf.ones_like(crops[..., :1])
    scene = tf.concat(maps, axis=-1)
    for _ in range(rank - 4):  # num_boxes (and time) between batch and k, k.
      scene = tf.expand_dims(scene, axis=1)
    # `scale` has the crops' shape with one channel: this also tiles the scene
    # over boxes and time.
    scene = scale * scene
    combined = tf.concat([crops, scene], axis=-1)
    return self._reduction_conv(int(roi_crops.shape[-1]))(combined)
