"""g_theta: the pairwise relation function over (actor, scene cell) pairs.

For actor i and scene cell (j, k) (paper eq. 2) g_theta reads

  x_i(j, k) = [s_i * a_i; b_i; s_i * o(j, k); l(j, k)]

(a_i the actor feature, b_i its normalised box, o(j, k) the scene feature,
l(j, k) = (j / H, k / W), s_i the normalise-and-rescale factor of actor i,
1 without normalisation) and computes act(x_i(j, k) W + bias): a 1 x 1
convolution over the actor-tiled map, as in paper figure 3.

Since the convolution is linear, splitting W by rows into W_a, W_b, W_o, W_l
gives

  x_i(j, k) W = (s_i a_i W_a + b_i W_b) + s_i (o(j, k) W_o) + l(j, k) W_l,

so the scene part o W_o is computed once per image and each actor adds a
vector and scales the shared map by s_i (`decompose=True`). The naive form
(`decompose=False`) builds the [batch, actors, H, W, d_in] concatenation and
exists to check the decomposition and for benchmarks.

Without the actor feature (`relation_inputs(..., actor_feature=False)`)
x_i(j, k) = [b_i; o(j, k); l(j, k)]: a_i has zero channels, W_a zero rows
and s_i = 1, so g_theta sees where the actor stands, not what it looks
like.
"""

from typing import Any, Mapping, Optional, Sequence

import tensorflow as tf
import tf_keras

from acrn_tf.models import s3dg_layers
from acrn_tf.relation import normalization
from acrn_tf.relation import scene_maps as scene_maps_lib

BOX_CHANNELS = 4
LOCATION_CHANNELS = 2


def relation_inputs(actor_features: tf.Tensor, actor_boxes: tf.Tensor,
                    scene_maps: Sequence[tf.Tensor],
                    normalize_and_rescale: bool,
                    actor_feature: bool = True):
  """The inputs of `PairwiseRelationConv`, normalised as paper 4.2 says.

  Args:
    actor_features: float32 [batch, num_boxes, d_a], f_a.
    actor_boxes: float32 [batch, num_boxes, 4], normalised boxes.
    scene_maps: list of float32 [batch, H, W, c_e], one size.
    normalize_and_rescale: L2-normalise f_a and each scene map per cell and
      rescale by ||f_a|| / sqrt(n + 1) (`normalization`); else pass them raw
      with a factor of 1.
    actor_feature: False leaves f_a out of g_theta: the returned actor
      features have zero channels and the factor is 1 (the scene maps are
      still L2-normalised per cell when `normalize_and_rescale`), so
      nothing that depends on f_a enters g_theta.

  Returns:
    (actor_features [batch, num_boxes, d_a or 0], actor_boxes,
    scene_features [batch, H, W, sum c_e], actor_scale [batch, num_boxes])
    for `PairwiseRelationConv.call`.
  """
  if not actor_feature:
    if normalize_and_rescale:
      scene_maps = [normalization.l2_normalize_channels(m)
                    for m in scene_maps]
    scale = tf.ones_like(actor_features[..., 0])
    actor_features = actor_features[..., :0]
  elif normalize_and_rescale:
    scale = normalization.rescale_factor(actor_features, len(scene_maps))
    actor_features = normalization.l2_normalize_channels(actor_features)
    scene_maps = [normalization.l2_normalize_channels(m) for m in scene_maps]
  else:
    scale = tf.ones_like(actor_features[..., 0])
  scene = scene_maps[0] if len(scene_maps) == 1 else tf.concat(scene_maps, -1)
  return actor_features, actor_boxes, scene, scale


@tf_keras.utils.register_keras_serializable(package='acrn_tf')
class PairwiseRelationConv(tf_keras.layers.Layer):
  """g_theta as a 1 x 1 convolution over [actor; box; scene cell; location]."""

  def __init__(self,
               filters: int,
               activation: Optional[str] = 'relu',
               decompose: bool = True,
               weight_decay: float = 0.0,
               **kwargs):
    """Initialises the layer.

    Args:
      filters: output channels.
      activation: Keras activation applied to the output (None: linear). The
        decomposition concerns the linear part only.
      decompose: compute the scene part once per image (see module doc).
      weight_decay: slim-style L2 weight decay of the kernel.
      **kwargs: keyword arguments of `tf_keras.layers.Layer`.
    """
    super().__init__(**kwargs)
    if filters < 1:
      raise ValueError(f'{self.name}: filters must be >= 1, got {filters}.')
    self._config_dict = {
        'filters': int(filters), 'activation': activation,
        'decompose': bool(decompose), 'weight_decay': weight_decay,
    }
    self._activation = tf_keras.activations.get(activation)
    self._actor_channels = None
    self._scene_channels = None

  def build(self, input_shape):
    actor_shape, box_shape, scene_shape, scale_shape = [
        tf.TensorShape(s) for s in input_shape]
    if actor_shape.rank != 3 or actor_shape[-1] is None:
      raise ValueError(f'{self.name}: actor features must be [batch, '
                       f'num_boxes, d_a] with d_a known, got {actor_shape}.')
    if box_shape.rank != 3 or box_shape[-1] != BOX_CHANNELS:
      raise ValueError(f'{self.name}: boxes must be [batch, num_boxes, 4], '
                       f'got {box_shape}.')
    if scene_shape.rank != 4 or scene_shape[-1] is None:
      raise ValueError(f'{self.name}: scene features must be [batch, h, w, c]'
                       f' with c known, got {scene_shape}.')
    if scale_shape.rank != 2:
      raise ValueError(f'{self.name}: the rescale factor must be [batch, '
                       f'num_boxes], got {scale_shape}.')
    self._actor_channels = int(actor_shape[-1])
    self._scene_channels = int(scene_shape[-1])
    input_channels = (self._actor_channels + BOX_CHANNELS +
                      self._scene_channels + LOCATION_CHANNELS)
    self.kernel = self.add_weight(
        'kernel', shape=(input_channels, self._config_dict['filters']),
        initializer='glorot_uniform',
        regularizer=s3dg_layers.l2_regularizer(
            self._config_dict['weight_decay']))
    self.bias = self.add_weight('bias', shape=(self._config_dict['filters'],),
                                initializer='zeros')
    super().build(input_shape)

  def _kernel_parts(self):
    """Rows of the kernel for (actor, box, scene, location)."""
    return tf.split(self.kernel, [self._actor_channels, BOX_CHANNELS,
                                  self._scene_channels, LOCATION_CHANNELS],
                    axis=0)

  def call(self, inputs: Sequence[tf.Tensor]) -> tf.Tensor:
    """Computes g_theta for every (actor, scene cell) pair.

    Args:
      inputs: (actor_features, actor_boxes, scene_features, actor_scale):
        float32 [batch, num_boxes, d_a] actor features a_i (already
        L2-normalised if the caller normalises); float32 [batch, num_boxes,
        4] normalised [ymin, xmin, ymax, xmax] boxes b_i; float32 [batch, H,
        W, c] scene features o(j, k) (normalised likewise); float32 [batch,
        num_boxes] rescale factors s_i (ones without normalisation).

    Returns:
      float32 [batch, num_boxes, H, W, filters].
    """
    actors, boxes, scene, scale = inputs
    if self._config_dict['decompose']:
      outputs = self._decomposed(actors, boxes, scene, scale)
    else:
      outputs = self._naive(actors, boxes, scene, scale)
    return self._activation(outputs)

  def _decomposed(self, actors, boxes, scene, scale):
    w_actor, w_box, w_scene, w_location = self._kernel_parts()
    height, width = scene_maps_lib.height_width(scene)
    actor_part = (tf.einsum('brc,cf->brf', actors * scale[..., None], w_actor)
                  + tf.einsum('brc,cf->brf', boxes, w_box) + self.bias)
    scene_part = tf.einsum('bhwc,cf->bhwf', scene, w_scene)
    location_part = tf.einsum(
        'hwc,cf->hwf',
        tf.cast(scene_maps_lib.location_grid(height, width), scene.dtype),
        w_location)
    return (actor_part[:, :, None, None, :] +
            scale[:, :, None, None, None] * scene_part[:, None] +
            location_part)

  def _naive(self, actors, boxes, scene, scale):
    height, width = scene_maps_lib.height_width(scene)
    batch_size = tf.shape(actors)[0]
    num_boxes = tf.shape(actors)[1]

    def tiled(tensor):  # [b, r, c] -> [b, r, H, W, c]
      channels = tensor.shape[-1]
      return tf.broadcast_to(tensor[:, :, None, None, :],
                             [batch_size, num_boxes, height, width, channels])

    scaled_scene = scale[:, :, None, None, None] * scene[:, None]
    locations = tf.broadcast_to(
        tf.cast(scene_maps_lib.location_grid(height, width),
                scene.dtype)[None, None],
        [batch_size, num_boxes, height, width, LOCATION_CHANNELS])
    pairs = tf.concat([tiled(actors * scale[..., None]), tiled(boxes),
                       scaled_scene, locations], axis=-1)
    return tf.einsum('brhwc,cf->brhwf', pairs, self.kernel) + self.bias

  def get_config(self) -> Mapping[str, Any]:
    return {**super().get_config(), **self._config_dict}
