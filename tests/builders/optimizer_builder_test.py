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


def test_missing_optimizer_and_schedule_are_refused():
  with pytest.raises(ValueError, match='only momentum_optimizer'):
    optimizer_builder.build(optimizer_pb2.Optimizer())
  with pytest.raises(ValueError, match='no schedule set'):
    optimizer_builder.build(_config('momentum_optimizer {}'))
