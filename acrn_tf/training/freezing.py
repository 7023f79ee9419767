"""Freezes the parts of a model that `train_config.frozen_part` names.

The OD API freezes variables by name (`freeze_variables`, regular
expressions over variable names), which by itself does not change how
batch norm runs in the frozen layers. Here a part is frozen by setting its Keras layers' `trainable` to False: tf_keras
then leaves their variables out of `trainable_variables` (no gradient, no
optimizer slot) and runs their batch norm in inference mode, so a frozen
pretrained network computes exactly what it computed when evaluated.
"""

from typing import List

from absl import logging
import tf_keras

from acrn_tf.protos import train_pb2

_PART = train_pb2.TrainConfig.FrozenPart


def part_layers(model) -> dict:
  """Maps each FrozenPart name to the model's layer for it."""
  return {'FEATURE_EXTRACTOR': model.feature_extractor,
          'ACTOR_DETECTOR': model.actor_detector,
          'ACTOR_HEAD': model.actor_head}


def freeze(model, train_config: train_pb2.TrainConfig) -> List[str]:
  """Sets `trainable = False` on the parts `train_config` freezes.

  Call it after the model's variables exist and before the training step is
  traced (the step reads `model.trainable_variables` when traced).

  Args:
    model: a VideoFasterRCNN (or subclass).
    train_config: its train config; `frozen_part` lists what to freeze.

  Returns:
    The names of the frozen parts, in config order.

  Raises:
    ValueError: FROZEN_PART_UNSPECIFIED (config_validation refuses it, and
      a part named twice, before a model is built; a part named twice is
      frozen once here).
  """
  layers = part_layers(model)
  names = []
  for i, part in enumerate(train_config.frozen_part):
    name = _PART.Name(part)
    if name not in layers:
      raise ValueError(f'train_config.frozen_part[{i}]: {name} is not a part;'
                       f' expected one of {", ".join(layers)}')
    if name not in names:
      names.append(name)
  for name in names:
    layer: tf_keras.layers.Layer = layers[name]
    count = sum(int(v.shape.num_elements()) for v in layer.trainable_weights)
    layer.trainable = False
    logging.info('Frozen %s: %d parameters do not train; its batch norm '
                 'uses its moving statistics.', name.lower(), count)
  return names
