"""The actor-centric relation network (ACRN, paper 3.2 and figure 3b).

For each actor i, g_theta (`g_theta.PairwiseRelationConv`: a 1 x 1
convolution with ReLU over [f_a; b_i] tiled over the scene map, concatenated
with F(j, k) and l(j, k) = (j / H, k / W), after the normalise-and-rescale
of paper 4.2) gives the relation map F_theta(a_i) [H, W, relation_channels].
With `actor_feature_in_g_theta=False` g_theta reads b_i without f_a (see
`g_theta.relation_inputs`); f_a then meets f_RN in the classifier only.
The module's own S3D-G Mixed_5b/5c (`S3DGHead`, not shared with the action
classifier; both load the same pretrained blocks) run on that map inflated
to 3D (tiled over `inflated_time_steps` frames, as the action head inflates
its crops), so relations accumulate over neighbouring cells. The Mixed_5c
output averaged over time is the relation map returned for CAM heat maps
(paper 4.4); its spatial average is f_RN, which the classifier reads beside
f_a.

Several scene maps (table 1c) are each resized by their scale, then all to
the largest scaled size, normalised separately and concatenated
(`scene_maps`, `normalization`). The gradient from this module into the
scene maps is multiplied by `gradient_multiplier`; the gradient into f_a is
not scaled (paper 4.1 scales the feature map's only).
"""

from typing import Any, Mapping, Optional

import tensorflow as tf
import tf_keras

from acrn_tf.models import s3dg
from acrn_tf.relation import g_theta
from acrn_tf.relation import relation_module


def _merge_first_two_axes(tensor: tf.Tensor) -> tf.Tensor:
  """[a, b, ...] -> [a * b, ...], keeping the static inner dimensions."""
  inner = [d if d is not None else tf.shape(tensor)[i + 2]
           for i, d in enumerate(tensor.shape[2:])]
  return tf.reshape(tensor, [-1] + inner)


def _split_first_axis(tensor: tf.Tensor, first: tf.Tensor,
                      second: tf.Tensor) -> tf.Tensor:
  """[first * second, ...] -> [first, second, ...], keeping inner dims."""
  inner = [d if d is not None else tf.shape(tensor)[i + 1]
           for i, d in enumerate(tensor.shape[1:])]
  return tf.reshape(tensor, [first, second] + inner)


@tf_keras.utils.register_keras_serializable(package='acrn_tf')
class ActorCentricRelation(relation_module.RelationModule):
  """g_theta, then the module's own Mixed_5b/5c and average pooling -> f_RN."""

  def __init__(self,
               relation_channels: int,
               head_config: Optional[Mapping[str, Any]] = None,
               inflated_time_steps: int = 1,
               decompose_g_theta: bool = True,
               weight_decay: float = 0.0,
               **kwargs):
    """Initialises the module.

    Args:
      relation_channels: channels of g_theta's output, the input channels of
        the relation head's Mixed_5b (832 at depth multiplier 1: the channels
        of F, which the pretrained Mixed_5b takes).
      head_config: keyword arguments of the relation head's `s3dg.S3DGHead`
        (depth_multiplier, min_depth, temporal_conv_startat, gating_startat,
        batch-norm settings, weight_decay, use_frozen_batch_norm); the
        action head's settings, so both load the same checkpoint blocks.
      inflated_time_steps: frames the relation map is tiled over before
        Mixed_5b (>= 1).
      decompose_g_theta: compute g_theta's scene part once per image.
      weight_decay: slim-style L2 weight decay of g_theta's kernel.
      **kwargs: `RelationModule` arguments (scene_features,
        gradient_multiplier, normalize_and_rescale,
        actor_feature_in_g_theta) and Layer keywords.

    Raises:
      ValueError: a non-positive channel count or time length.
    """
    kwargs.setdefault('name', 'acrn')
    super().__init__(**kwargs)
    if relation_channels < 1:
      raise ValueError(f'{self.name}: relation_channels must be >= 1, got '
                       f'{relation_channels}.')
    if inflated_time_steps < 1:
      raise ValueError(f'{self.name}: inflated_time_steps must be >= 1, got '
                       f'{inflated_time_steps}.')
    head_config = dict(head_config or {})
    head_config.pop('name', None)
    head_config.pop('include_max_pool', None)
    self._config_dict.update({
        'relation_channels': int(relation_channels),
        'head_config': head_config,
        'inflated_time_steps': int(inflated_time_steps),
        'decompose_g_theta': bool(decompose_g_theta),
        'weight_decay': weight_decay,
    })
    self._g_theta = g_theta.PairwiseRelationConv(
        relation_channels, activation='relu', decompose=decompose_g_theta,
        weight_decay=weight_decay, name='g_theta')
    self._head = s3dg.S3DGHead(include_max_pool=False, name='relation_head',
                               **head_config)

  @property
  def output_channels(self) -> int:
    return self._head.output_channels

  @property
  def has_relation_maps(self) -> bool:
    return True

  @property
  def relation_head(self) -> s3dg.S3DGHead:
    """The module's Mixed_5b/5c (restore it from the slim checkpoint)."""
    return self._head

  @property
  def g_theta(self) -> g_theta.PairwiseRelationConv:
    return self._g_theta

  def relation_input_maps(self, actor_features: tf.Tensor,
                          actor_boxes: tf.Tensor,
                          scene_maps: Mapping[str, tf.Tensor]) -> tf.Tensor:
    """F_theta(a_i): g_theta over every scene cell, before the head.

    Args:
      actor_features: float32 [batch, num_boxes, d_a].
      actor_boxes: float32 [batch, num_boxes, 4] normalised.
      scene_maps: dict endpoint -> float32 [batch, h, w, c_e].

    Returns:
      float32 [batch, num_boxes, H, W, relation_channels].
    """
    relation_module.check_actor_inputs(self.name, actor_features, actor_boxes)
    maps = self.gather_scene_maps(scene_maps)
    return self._g_theta(g_theta.relation_inputs(
        actor_features, actor_boxes, maps, self.normalize_and_rescale,
        self.actor_feature_in_g_theta))

  def call(self, actor_features: tf.Tensor, actor_boxes: tf.Tensor,
           scene_maps: Mapping[str, tf.Tensor],
           training: Optional[bool] = None
           ) -> relation_module.RelationOutputs:
    """Computes f_RN and the relation map; see `RelationModule.call`.

    Returns:
      `RelationOutputs`: relation_features float32 [batch, num_boxes, d]
      (d = 1024 at depth multiplier 1) and relation_maps float32 [batch,
      num_boxes, H, W, d], the Mixed_5c map averaged over time (H, W: the
      scene map's combined size), of which relation_features is the mean.
    """
    relation = self.relation_input_maps(actor_features, actor_boxes,
                                        scene_maps)
    batch_size = tf.shape(relation)[0]
    num_boxes = tf.shape(relation)[1]
    inflated = _merge_first_two_axes(relation)[:, None]
    time_steps = self._config_dict['inflated_time_steps']
    if time_steps > 1:
      inflated = tf.tile(inflated, [1, time_steps, 1, 1, 1])
    head_maps = self._head(inflated, training=training)
    relation_maps = _split_first_axis(
        tf.reduce_mean(head_maps, axis=1), batch_size, num_boxes)
    return relation_module.RelationOutputs(
        relation_features=tf.reduce_mean(relation_maps, axis=[2, 3]),
        relation_maps=relation_maps)
