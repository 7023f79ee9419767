"""The relation network of Santoro et al. (2017) as a relation module (table 1a).

g_theta (`g_theta.PairwiseRelationConv`, a 1 x 1 convolution with ReLU over
[f_a; b_i] tiled and [F(j, k); l(j, k)], normalised and rescaled as in paper
4.2; without f_a when `actor_feature_in_g_theta` is False) gives a
relation vector per (actor, cell); f_phi averages them over all
cells and applies one fully connected layer with ReLU, giving f_RN. Unlike
ACRN there is no convolution over the relation map before averaging, so no
spatial map reaches the classifier and the module returns no relation maps.
"""

from typing import Mapping, Optional

import tensorflow as tf
import tf_keras

from acrn_tf.models import s3dg_layers
from acrn_tf.relation import g_theta
from acrn_tf.relation import relation_module


@tf_keras.utils.register_keras_serializable(package='acrn_tf')
class SantoroRelation(relation_module.RelationModule):
  """g_theta, average over scene cells, one fully connected layer."""

  def __init__(self,
               num_units: int = 1024,
               decompose_g_theta: bool = True,
               weight_decay: float = 0.0,
               **kwargs):
    """Initialises the module.

    Args:
      num_units: channels of g_theta and of f_RN.
      decompose_g_theta: compute g_theta's scene part once per image.
      weight_decay: slim-style L2 weight decay of the kernels.
      **kwargs: `RelationModule` arguments (scene_features,
        gradient_multiplier, normalize_and_rescale,
        actor_feature_in_g_theta) and Layer keywords.
    """
    kwargs.setdefault('name', 'santoro_relation')
    super().__init__(**kwargs)
    if num_units < 1:
      raise ValueError(f'{self.name}: num_units must be >= 1, got '
                       f'{num_units}.')
    self._config_dict.update({
        'num_units': int(num_units),
        'decompose_g_theta': bool(decompose_g_theta),
        'weight_decay': weight_decay,
    })
    self._g_theta = g_theta.PairwiseRelationConv(
        num_units, activation='relu', decompose=decompose_g_theta,
        weight_decay=weight_decay, name='g_theta')
    self._f_phi = tf_keras.layers.Dense(
        num_units, activation='relu',
        kernel_regularizer=s3dg_layers.l2_regularizer(weight_decay),
        name='f_phi')

  @property
  def output_channels(self) -> int:
    return self._config_dict['num_units']

  def call(self, actor_features: tf.Tensor, actor_boxes: tf.Tensor,
           scene_maps: Mapping[str, tf.Tensor],
           training: Optional[bool] = None
           ) -> relation_module.RelationOutputs:
    """Computes f_RN; see `RelationModule.call` for the arguments.

    Returns:
      `RelationOutputs` with relation_features float32 [batch, num_boxes,
      num_units] and no relation maps.
    """
    del training
    relation_module.check_actor_inputs(self.name, actor_features, actor_boxes)
    maps = self.gather_scene_maps(scene_maps)
    pairs = self._g_theta(g_theta.relation_inputs(
        actor_features, actor_boxes, maps, self.normalize_and_rescale,
        self.actor_feature_in_g_theta))
    averaged = tf.reduce_mean(pairs, axis=[2, 3])
    return relation_module.RelationOutputs(
        relation_features=self._f_phi(averaged))
