"""The interface every relation module implements (paper 3.2, table 1a).

A relation module relates each actor to the scene. It acts at one or both of
two points of the action head:

  * `head_inputs` (before the classification head): may replace each
    actor's ROI crop of F, e.g. by the crop concatenated with the scene
    (Resize+Concat). The default returns the crops unchanged.
  * `call` (after it): from the actor features f_a, returns relation
    features f_RN that the classifier reads beside f_a, and for modules with
    a spatial relation map (ACRN) that map before pooling, for the class
    activation heat maps (paper 4.4). The default returns neither.

The meta-architecture calls both, in that order, on every forward pass.
Scene maps are read from the extractor's dict by endpoint; the module
multiplies the gradient flowing back into them by `gradient_multiplier`.
The gradient into f_a is never scaled: paper 4.1 scales only the gradient
from the relation branch into the feature map.
"""

from typing import Any, Mapping, NamedTuple, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tf_keras

from acrn_tf.relation import scene_maps as scene_maps_lib


class RelationOutputs(NamedTuple):
  """What `RelationModule.call` returns.

  Attributes:
    relation_features: float32 [batch, num_boxes, output_channels] (f_RN),
      or None when the module adds no feature to the classifier's input.
    relation_maps: float32 [batch, num_boxes, h, w, output_channels], the
      spatial map f_RN is the average of (for CAM), or None.
  """
  relation_features: Optional[tf.Tensor] = None
  relation_maps: Optional[tf.Tensor] = None


class RelationModule(tf_keras.layers.Layer):
  """Base class: relates nothing (the Base-Model), see the module docstring."""

  def __init__(self,
               scene_features: Sequence[Any] = (
                   scene_maps_lib.SceneFeature(),),
               gradient_multiplier: float = 0.01,
               normalize_and_rescale: bool = True,
               actor_feature_in_g_theta: bool = True,
               **kwargs):
    """Initialises the common settings.

    Args:
      scene_features: the scene maps related to, as `SceneFeature`s,
        (endpoint, scale) pairs or dicts. Modules that read no scene map
        ignore it.
      gradient_multiplier: multiplier of the gradient from this module into
        each scene map (>= 0; paper 4.1: 0.01).
      normalize_and_rescale: L2-normalise actor and scene features and
        rescale the concatenation to the actor's norm (paper 4.2; see
        `normalization`).
      actor_feature_in_g_theta: whether g_theta reads f_a (paper eq. 2);
        False: only the box, the scene cell and its location (see
        `g_theta.relation_inputs`). Modules without g_theta refuse False.
      **kwargs: keyword arguments of `tf_keras.layers.Layer`.

    Raises:
      ValueError: a bad scene feature or a negative gradient multiplier.
    """
    super().__init__(**kwargs)
    if gradient_multiplier < 0:
      raise ValueError('gradient_multiplier must be >= 0, got '
                       f'{gradient_multiplier}.')
    self._scene_features = scene_maps_lib.as_scene_features(scene_features)
    self._config_dict = {
        'scene_features': [
            {'endpoint': f.endpoint, 'scale': f.scale}
            for f in self._scene_features],
        'gradient_multiplier': float(gradient_multiplier),
        'normalize_and_rescale': bool(normalize_and_rescale),
        'actor_feature_in_g_theta': bool(actor_feature_in_g_theta),
    }

  def __call__(self, actor_features, actor_boxes, scene_maps, *args,
               **kwargs):
    """Layer.__call__, with NumPy boxes and scene maps taken as tensors.

    Keras converts only the first argument; the shape checks of the
    modules read `.shape.rank`, which a NumPy array has not.
    """
    def as_tensor(value):
      return (tf.convert_to_tensor(value) if isinstance(value, np.ndarray)
              else value)
    return super().__call__(
        as_tensor(actor_features), as_tensor(actor_boxes),
        {name: as_tensor(value) for name, value in scene_maps.items()},
        *args, **kwargs)

  @property
  def scene_features(self) -> Tuple[scene_maps_lib.SceneFeature, ...]:
    return self._scene_features

  @property
  def scene_endpoints(self) -> Tuple[str, ...]:
    """Endpoints the feature extractor must flatten for this module."""
    return tuple(dict.fromkeys(f.endpoint for f in self._scene_features))

  @property
  def output_channels(self) -> int:
    """Channels of f_RN (0: the module adds no relation feature)."""
    return 0

  @property
  def has_relation_maps(self) -> bool:
    """Whether `call` returns relation maps (CAM heat maps are possible)."""
    return False

  @property
  def relation_head(self) -> Optional[tf_keras.layers.Layer]:
    """The module's own S3D-G Mixed_5b/5c head, which a slim S3D-G warm
    start restores (ACRN), or None."""
    return None

  @property
  def gradient_multiplier(self) -> float:
    return self._config_dict['gradient_multiplier']

  @property
  def normalize_and_rescale(self) -> bool:
    return self._config_dict['normalize_and_rescale']

  @property
  def actor_feature_in_g_theta(self) -> bool:
    return self._config_dict['actor_feature_in_g_theta']

  def gather_scene_maps(self, scene_maps: Mapping[str, tf.Tensor],
                        output_size=None):
    """The module's scene maps, gradient-scaled and at one size.

    See `scene_maps.gather_scene_maps`; returns a list of [batch, H, W, c_e].
    """
    return scene_maps_lib.gather_scene_maps(
        scene_maps, self._scene_features, self.gradient_multiplier,
        output_size)

  def head_inputs(self, roi_crops: tf.Tensor, actor_boxes: tf.Tensor,
                  scene_maps: Mapping[str, tf.Tensor],
                  training: Optional[bool] = None) -> tf.Tensor:
    """The classification head's input for each actor (default: the crop).

    Args:
      roi_crops: float32 [batch, num_boxes, k, k, c] ROI crops of F, or
        [batch, num_boxes, t, k, k, c] already inflated to 3D.
      actor_boxes: float32 [batch, num_boxes, 4] normalised [ymin, xmin,
        ymax, xmax].
      scene_maps: dict endpoint -> float32 [batch, h, w, c_e].
      training: training mode.

    Returns:
      A tensor shaped like `roi_crops`.
    """
    del actor_boxes, scene_maps, training
    return roi_crops

  def call(self, actor_features: tf.Tensor, actor_boxes: tf.Tensor,
           scene_maps: Mapping[str, tf.Tensor],
           training: Optional[bool] = None) -> RelationOutputs:
    """Relation features of each actor (default: none).

    Args:
      actor_features: float32 [batch, num_boxes, d_a], f_a from the head.
      actor_boxes: float32 [batch, num_boxes, 4] normalised [ymin, xmin,
        ymax, xmax].
      scene_maps: dict endpoint -> float32 [batch, h, w, c_e].
      training: training mode.

    Returns:
      `RelationOutputs`.
    """
    del actor_features, actor_boxes, scene_maps, training
    return RelationOutputs()

  def get_config(self) -> Mapping[str, Any]:
    return {**super().get_config(), **self._config_dict}


def check_actor_inputs(layer_name: str, actor_features: tf.Tensor,
                       actor_boxes: tf.Tensor):
  """Raises ValueError unless f_a is [batch, n, d] and boxes [batch, n, 4]."""
  if actor_features.shape.rank != 3:
    raise ValueError(f'{layer_name}: actor_features must be [batch, num_boxes,'
                     f' channels], got shape {actor_features.shape}.')
  if actor_boxes.shape.rank != 3 or actor_boxes.shape[-1] != 4:
    raise ValueError(f'{layer_name}: actor_boxes must be [batch, num_boxes, 4]'
                     f', got shape {actor_boxes.shape}.')
