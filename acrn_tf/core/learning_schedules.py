"""Learning-rate schedules of the pipeline config.

Model Garden's `LinearWarmup` + `CosineDecayWithOffset` give warm-up then
cosine decay, but during a hold period the offset cosine evaluates
cos(negative angle) < 1 instead of holding the base rate, so the OD API's
`cosine_decay_learning_rate { hold_base_rate_steps }` is written here as one
schedule.
"""

import math

import tensorflow as tf
import tf_keras


@tf_keras.utils.register_keras_serializable(package='acrn_tf')
class CosineDecayWithWarmup(
    tf_keras.optimizers.schedules.LearningRateSchedule):
  """Linear warm-up, optional hold, then cosine decay to 0 at total_steps.

  lr(step) =
    warmup_learning_rate + (base - warmup_learning_rate) * step / warmup_steps
        for step < warmup_steps;
    base  for warmup_steps <= step < warmup_steps + hold_base_rate_steps;
    0.5 * base * (1 + cos(pi * (step - warmup - hold) /
                          (total_steps - warmup - hold)))  until total_steps;
    0 afterwards.
  """

  def __init__(self, learning_rate_base, total_steps, warmup_learning_rate=0.0,
               warmup_steps=0, hold_base_rate_steps=0, name=None):
    super().__init__()
    if warmup_steps + hold_base_rate_steps > total_steps:
      raise ValueError(
          f'warmup_steps + hold_base_rate_steps ({warmup_steps} + '
          f'{hold_base_rate_steps}) must be <= total_steps ({total_steps})')
    if warmup_learning_rate > learning_rate_base:
      raise ValueError(f'warmup_learning_rate ({warmup_learning_rate}) must be'
                       f' <= learning_rate_base ({learning_rate_base})')
    self._config_dict = {
        'learning_rate_base': learning_rate_base,
        'total_steps': total_steps,
        'warmup_learning_rate': warmup_learning_rate,
        'warmup_steps': warmup_steps,
        'hold_base_rate_steps': hold_base_rate_steps,
        'name': name,
    }

  def __call__(self, step):
    c = self._config_dict
    with tf.name_scope(c['name'] or 'CosineDecayWithWarmup'):
      step = tf.cast(step, tf.float32)
      base = tf.constant(c['learning_rate_base'], tf.float32)
      warmup_steps = float(c['warmup_steps'])
      decay_start = float(c['warmup_steps'] + c['hold_base_rate_steps'])
      decay_steps = max(float(c['total_steps']) - decay_start, 1.0)
      progress = tf.clip_by_value((step - decay_start) / decay_steps, 0.0, 1.0)
      cosine = 0.5 * base * (1.0 + tf.cos(math.pi * progress))
      learning_rate = tf.where(step < decay_start, base, cosine)
      if c['warmup_steps'] > 0:
        slope = (c['learning_rate_base'] - c['warmup_learning_rate']) / (
            warmup_steps)
        warmup = c['warmup_learning_rate'] + slope * step
        learning_rate = tf.where(step < warmup_steps, warmup, learning_rate)
      return tf.where(step >= float(c['total_steps']), 0.0, learning_rate)

  def get_config(self):
    return dict(self._config_dict)
