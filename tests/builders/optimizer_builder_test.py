"""Optimizer and schedule from the optimizer config."""

import pytest
import tf_keras
from google.protobuf import text_format

from acrn_tf.builders import optimizer_builder
from acrn_tf.core import learning_schedules
from acrn_tf.protos import optimizer_pb2


def _config(text):
  return text_format.Parse(text, optimizer_pb2.Optimizer())


def test_momentum_with_cosine_schedule():
  optimizer, schedule = optimizer_builder.build(_config("""
      momentum_optimizer {
        learning_rate { cosine_decay_learning_rate {
          learning_rate_base: 0.001 total_steps: 1000
          warmup_learning_rate: 0.0001 warmup_steps: 100 } }
        momentum_optimizer_value: 0.8
      }"""))
  assert isinstance(optimizer, tf_keras.optimizers.SGD)
  assert optimizer.get_config()['momentum'] == pytest.approx(0.8)
  assert isinstance(schedule, learning_schedules.CosineDecayWithWarmup)
  assert float(schedule(100)) == pytest.approx(0.001)


def test_constant_learning_rate():
  optimizer, learning_rate = optimizer_builder.build(_config("""
      momentum_optimizer {
        learning_rate { constant_learning_rate { learning_rate: 0.05 } }
        use_nesterov: true
      }"""))
  assert learning_rate == pytest.approx(0.05)
  assert optimizer.get_config()['nesterov']


def test_adam_with_cosine_schedule():
  optimizer, schedule = optimizer_builder.build(_config("""
      adam_optimizer {
        learning_rate { cosine_decay_learning_rate {
          learning_rate_base: 0.001 total_steps: 1000
          warmup_learning_rate: 0.0001 warmup_steps: 100 } }
        beta1: 0.8 beta2: 0.99 epsilon: 1e-6
      }"""))
  assert isinstance(optimizer, tf_keras.optimizers.Adam)
  settings = optimizer.get_config()
  assert settings['beta_1'] == pytest.approx(0.8)
  assert settings['beta_2'] == pytest.approx(0.99)
  assert settings['epsilon'] == pytest.approx(1e-6)
  assert isinstance(schedule, learning_schedules.CosineDecayWithWarmup)
  assert float(schedule(0)) == pytest.approx(0.0001)
  assert float(schedule(100)) == pytest.approx(0.001)
  # The optimizer follows the schedule: at step 0, the warm-up's start.
  assert float(optimizer.learning_rate) == pytest.approx(0.0001)


def test_adam_defaults_with_constant_learning_rate():
  optimizer, learning_rate = optimizer_builder.build(_config("""
      adam_optimizer {
        learning_rate { constant_learning_rate { learning_rate: 0.0003 } }
      }"""))
  assert learning_rate == pytest.approx(0.0003)
  settings = optimizer.get_config()
  assert settings['learning_rate'] == pytest.approx(0.0003)
  # The paper's values; Keras's own epsilon would be 1e-7.
  assert settings['beta_1'] == pytest.approx(0.9)
  assert settings['beta_2'] == pytest.approx(0.999)
  assert settings['epsilon'] == pytest.approx(1e-8)


@pytest.mark.parametrize('kind', optimizer_builder.OPTIMIZER_FIELDS)
def test_learning_rate_config_is_the_set_optimizers(kind):
  config = _config(f"""
      {kind} {{
        learning_rate {{ constant_learning_rate {{ learning_rate: 0.5 }} }}
      }}""")
  rate = optimizer_builder.learning_rate_config(config)
  assert rate.constant_learning_rate.learning_rate == pytest.approx(0.5)
  rate.constant_learning_rate.learning_rate = 0.25
  assert getattr(config, kind).learning_rate.constant_learning_rate \
      .learning_rate == pytest.approx(0.25)
  assert optimizer_builder.learning_rate_config(
      optimizer_pb2.Optimizer()) is None


def test_missing_optimizer_and_schedule_are_refused():
  with pytest.raises(ValueError, match=r'^optimizer: set one of '
                     r'momentum_optimizer, adam_optimizer, got None$'):
    optimizer_builder.build(optimizer_pb2.Optimizer())
  for kind in optimizer_builder.OPTIMIZER_FIELDS:
    with pytest.raises(ValueError, match='no schedule set'):
      optimizer_builder.build(_config(f'{kind} {{}}'))
