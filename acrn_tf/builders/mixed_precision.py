"""train_config.mixed_precision as a tf_keras mixed-precision policy.

The policy is read by each layer when it is constructed, so a model built
inside `policy_scope` computes in float16 or bfloat16 and keeps float32
variables; the model casts to float32 where precision matters (logits
before the losses and sigmoid/softmax, box encodings before decoding and
NMS). Under mixed_float16 the optimizer is wrapped in tf_keras'
`LossScaleOptimizer` (dynamic loss scaling), which delegates its checkpoint
to the wrapped optimizer and adds only its `loss_scale`: checkpoints of every
policy hold the same float32 variables under the same names.
"""

import contextlib
from typing import Iterator

import tf_keras

from acrn_tf.protos import train_pb2

_MixedPrecision = train_pb2.TrainConfig.MixedPrecision
POLICY_NAMES = {
    _MixedPrecision.FLOAT32: 'float32',
    _MixedPrecision.MIXED_FLOAT16: 'mixed_float16',
    _MixedPrecision.MIXED_BFLOAT16: 'mixed_bfloat16',
}


def policy_name(train_config: train_pb2.TrainConfig) -> str:
  """The tf_keras policy name of train_config.mixed_precision.

  Raises:
    ValueError: an enum value this version does not know.
  """
  value = train_config.mixed_precision
  if value not in POLICY_NAMES:
    raise ValueError(f'train_config.mixed_precision: unknown value {value}; '
                     f'expected one of {", ".join(_MixedPrecision.keys())}')
  return POLICY_NAMES[value]


@contextlib.contextmanager
def policy_scope(name: str) -> Iterator[tf_keras.mixed_precision.Policy]:
  """Sets tf_keras' global policy to `name` inside, restores it after.

  Build the model inside; layers keep the policy they were built with.
  """
  previous = tf_keras.mixed_precision.global_policy()
  policy = tf_keras.mixed_precision.Policy(name)
  tf_keras.mixed_precision.set_global_policy(policy)
  try:
    yield policy
  finally:
    tf_keras.mixed_precision.set_global_policy(previous)


def wrap_optimizer(optimizer: tf_keras.optimizers.Optimizer, name: str
                   ) -> tf_keras.optimizers.Optimizer:
  """`optimizer` with dynamic loss scaling under mixed_float16, else itself.

  bfloat16 has float32's exponent range and needs no loss scaling.
  """
  if name == 'mixed_float16':
    return tf_keras.mixed_precision.LossScaleOptimizer(optimizer)
  return optimizer
