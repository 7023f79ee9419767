"""Tests of freezing model parts (train_config.frozen_part)."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from acrn_tf.builders import model_builder
from acrn_tf.protos import train_pb2
from acrn_tf.training import freezing
from acrn_tf.training import train_lib
from acrn_tf.training import trainer
from tests.training import training_fixtures as fx

_PART = train_pb2.TrainConfig.FrozenPart


def _model_and_trainer(config, batch):
  model = model_builder.build_with_variables(
      config, config.train_input_reader, is_training=True)
  frozen = freezing.freeze(model, config.train_config)
  optimizer, _ = train_lib.build_optimizer(config.train_config)
  iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
  step = trainer.DetectionTrainer(
      model, optimizer, iterator, tf.distribute.get_strategy(), 1,
      gradient_clipping_by_norm=0.0, seed=3, use_xla=False)
  step.build_metrics(fx.LOSS_NAMES)
  return model, step, frozen


def _values(layer):
  """Every variable of `layer` (moving statistics too), by name."""
  return {v.name: v.numpy() for v in layer.weights}


def test_frozen_parts_keep_every_variable_and_the_rest_trains():
  tf_keras.utils.set_random_seed(0)
  config = fx.tiny_step_config('acrn', learning_rate=0.1)
  config.train_config.frozen_part.extend(
      [_PART.FEATURE_EXTRACTOR, _PART.ACTOR_HEAD])
  batch = fx.tiny_batch(config)
  model, step, frozen = _model_and_trainer(config, batch)
  assert frozen == ['FEATURE_EXTRACTOR', 'ACTOR_HEAD']
  trainable = {id(v) for v in model.trainable_variables}
  for layer in (model.feature_extractor, model.actor_head):
    assert not layer.trainable
    assert not any(id(v) in trainable for v in layer.weights)
  before = {name: _values(layer) for name, layer in (
      ('feature_extractor', model.feature_extractor),
      ('actor_head', model.actor_head),
      ('actor_detector', model.actor_detector),
      ('relation_module', model.relation_module))}
  classifier = model.classifier.kernel.numpy()
  step.train(tf.constant(2))

  # Frozen: kernels and batch-norm moving statistics alike (a batch norm
  # in training mode would have moved its moving mean towards the batch's).
  for part in ('feature_extractor', 'actor_head'):
    layer = getattr(model, part)
    names = [n for n in before[part] if 'moving_mean' in n]
    assert names, part
    for name, value in _values(layer).items():
      np.testing.assert_array_equal(value, before[part][name],
                                    err_msg=name)
  # Not frozen: the actor detector's batch norm updates its statistics and
  # the relation module and the classifier learn.
  moved = [n for n, v in _values(model.actor_detector).items()
           if 'moving_mean' in n
           and not np.array_equal(v, before['actor_detector'][n])]
  assert moved
  assert any(not np.array_equal(v, before['relation_module'][n])
             for n, v in _values(model.relation_module).items())
  assert not np.array_equal(model.classifier.kernel.numpy(), classifier)


def test_a_frozen_part_computes_as_in_evaluation():
  # trainable = False runs its batch norm in inference mode: the frozen
  # feature extractor gives the same map with training=True as with False.
  tf_keras.utils.set_random_seed(0)
  config = fx.tiny_step_config('none')
  config.train_config.frozen_part.append(_PART.FEATURE_EXTRACTOR)
  model = model_builder.build_with_variables(
      config, config.train_input_reader, is_training=True)
  clip = tf.random.stateless_uniform([1, 4, 64, 64, 3], [1, 2])
  endpoints = {}
  for trained in (False, True):
    if trained:
      freezing.freeze(model, config.train_config)
    endpoints[trained] = [
        model.feature_extractor(clip, training=True),
        model.feature_extractor(clip, training=False)]
  flat = tf.nest.flatten
  for training_mode, inference in zip(flat(endpoints[True][0]),
                                      flat(endpoints[True][1])):
    np.testing.assert_allclose(training_mode, inference, rtol=1e-5,
                               atol=1e-6)
  # Before freezing, training mode normalises with the batch's statistics.
  assert any(not np.allclose(a, b, rtol=1e-3, atol=1e-4) for a, b in zip(
      flat(endpoints[False][0]), flat(endpoints[False][1])))


def test_unspecified_part_is_refused():
  config = fx.tiny_step_config('none')
  config.train_config.frozen_part.append(_PART.FROZEN_PART_UNSPECIFIED)
  model = model_builder.build_with_variables(
      config, config.train_input_reader, is_training=True)
  with pytest.raises(ValueError, match=r'train_config.frozen_part\[0\]: '
                     'FROZEN_PART_UNSPECIFIED is not a part; expected one of '
                     'FEATURE_EXTRACTOR, ACTOR_DETECTOR, ACTOR_HEAD'):
    freezing.freeze(model, config.train_config)
