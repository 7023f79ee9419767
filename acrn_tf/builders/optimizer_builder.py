"""Builds the optimizer and its learning-rate schedule from the config."""

from typing import Optional

import tf_keras

from acrn_tf.core import learning_schedules
from acrn_tf.protos import optimizer_pb2

# The fields of the `optimizer` oneof; each message has a `learning_rate`.
OPTIMIZER_FIELDS = ('momentum_optimizer', 'adam_optimizer')


def learning_rate_config(config: optimizer_pb2.Optimizer
                         ) -> Optional[optimizer_pb2.LearningRate]:
  """The LearningRate message of the optimizer `config` sets, or None.

  The message is the config's own (not a copy): changing it changes
  `config`.
  """
  kind = config.WhichOneof('optimizer')
  if kind is None:
    return None
  return getattr(config, kind).learning_rate


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
  if kind == 'momentum_optimizer':
    momentum = config.momentum_optimizer
    learning_rate = build_learning_rate(momentum.learning_rate)
    optimizer = tf_keras.optimizers.SGD(
        learning_rate=learning_rate,
        momentum=momentum.momentum_optimizer_value,
        nesterov=momentum.use_nesterov)
  elif kind == 'adam_optimizer':
    adam = config.adam_optimizer
    learning_rate = build_learning_rate(adam.learning_rate)
    optimizer = tf_keras.optimizers.Adam(
        learning_rate=learning_rate, beta_1=adam.beta1, beta_2=adam.beta2,
        epsilon=adam.epsilon)
  else:
    raise ValueError(f'optimizer: set one of {", ".join(OPTIMIZER_FIELDS)}, '
                     f'got {kind!r}')
  return optimizer, learning_rate
