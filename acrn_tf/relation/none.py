"""The `none` relation module: the Base-Model, which relates nothing."""

import tf_keras

from acrn_tf.relation import relation_module


@tf_keras.utils.register_keras_serializable(package='acrn_tf')
class NoRelation(relation_module.RelationModule):
  """Leaves the head's input unchanged and adds no relation feature.

  Reads no scene map: `scene_endpoints` is empty.
  """

  def __init__(self, **kwargs):
    kwargs.setdefault('name', 'no_relation')
    super().__init__(**kwargs)

  @property
  def scene_endpoints(self):
    return ()
