"""Builds the optimizer and its learning-rate schedule from the config."""

import tf_keras

from acrn_tf.core import learning_schedules
from acrn_tf.protos import optimizer_pb2


def build_learning_rate(config: optimizer_pb2.LearningRate):
  """Returns a float or a LearningRateSchedule for `config`."""
  kind = config.WhichOneof('learning_rate')
  if kind == 'constant_learning_rate':
    return config.constant_learning_rate.learning_rate
  if kind == 'cosine_decay_learning_rate':
    cosine = config.cosine_decay_learning_rate
    return learning_schedules.CosineDecayWithWarmup(
        learning_rate_base=cosine.learning_rate_base,
        total_steps=cosine.total_steps,
        warmup_learning_rate=cosine.warmup_learning_rate,
        warmup_steps=cosine.warmup_steps,
        hold_base_rate_steps=cosine.hold_base_rate_steps)
  raise ValueError(f'learning_rate: no schedule set (got {kind!r})')


def build(config: optimizer_pb2.Optimizer):
  """Returns (optimizer, learning-rate schedule or float).

  Gradient clipping is not set on the optimizer: the training step clips the
  global norm itself so that it can log the norm before clipping.
  """
  kind = config.WhichOneof('optimizer')
  if kind != 'momentum_optimizer':
    raise ValueError(f'optimizer: only momentum_optimizer is supported, got '
                     f'{kind!r}')
  momentum = config.momentum_optimizer
  learning_rate = build_learning_rate(momentum.learning_rate)
  optimizer = tf_keras.optimizers.SGD(
      learning_rate=learning_rate,
      momentum=momentum.momentum_optimizer_value,
      nesterov=momentum.use_nesterov)
  return optimizer, learning_rate
