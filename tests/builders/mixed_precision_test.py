"""mixed_precision: policies, loss scaling, bfloat16 training and checkpoints
that move between policies."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from acrn_tf.builders import mixed_precision
from acrn_tf.builders import model_builder
from acrn_tf.core import standard_fields as fields
from acrn_tf.protos import train_pb2
from acrn_tf.training import train_lib
from acrn_tf.training import trainer
from tests.training import training_fixtures as fx

_MixedPrecision = train_pb2.TrainConfig.MixedPrecision


@pytest.mark.parametrize('value, name', [
    (_MixedPrecision.FLOAT32, 'float32'),
    (_MixedPrecision.MIXED_FLOAT16, 'mixed_float16'),
    (_MixedPrecision.MIXED_BFLOAT16, 'mixed_bfloat16')])
def test_policy_name_of_each_setting(value, name):
  assert mixed_precision.policy_name(
      train_pb2.TrainConfig(mixed_precision=value)) == name


def test_policy_scope_sets_the_policy_inside_and_restores_it():
  before = tf_keras.mixed_precision.global_policy().name
  with mixed_precision.policy_scope('mixed_bfloat16'):
    layer = tf_keras.layers.Dense(2)
  assert tf_keras.mixed_precision.global_policy().name == before
  assert layer.compute_dtype == 'bfloat16'
  assert layer(tf.ones([1, 3])).dtype == tf.bfloat16
  assert layer.kernel.dtype == tf.float32


def test_only_float16_gets_loss_scaling():
  sgd = tf_keras.optimizers.SGD(0.1)
  assert mixed_precision.wrap_optimizer(sgd, 'mixed_bfloat16') is sgd
  assert mixed_precision.wrap_optimizer(sgd, 'float32') is sgd
  wrapped = mixed_precision.wrap_optimizer(tf_keras.optimizers.SGD(0.1),
                                           'mixed_float16')
  assert isinstance(wrapped, tf_keras.mixed_precision.LossScaleOptimizer)
  assert wrapped.dynamic


def _trainer(config, batch):
  model = model_builder.build_with_variables(
      config, config.train_input_reader, is_training=True)
  optimizer, _ = train_lib.build_optimizer(config.train_config)
  step = trainer.DetectionTrainer(
      model, optimizer, iter(tf.data.Dataset.from_tensors(batch).repeat()),
      tf.distribute.get_strategy(), 1,
      gradient_clipping_by_norm=config.train_config.gradient_clipping_by_norm)
  step.build_metrics(fx.LOSS_NAMES)
  return step, model


def test_bfloat16_training_has_a_finite_falling_loss():
  config = fx.tiny_step_config('acrn', mixed_precision='MIXED_BFLOAT16',
                               learning_rate=0.02)
  config.train_config.gradient_clipping_by_norm = 10.0
  step, model = _trainer(config, fx.tiny_batch(config))
  # The layers compute in bfloat16 on float32 variables; logits and losses
  # are float32.
  assert model.feature_extractor.compute_dtype == 'bfloat16'
  assert model.classifier.compute_dtype == 'float32'
  assert all(v.dtype == tf.float32 for v in model.variables
             if v.dtype.is_floating)
  predictions = model.predict(
      model.preprocess(fx.tiny_batch(config)), training=False)
  assert predictions[fields.PredictionFields.feature_map].dtype == (
      tf.bfloat16)
  assert predictions[fields.PredictionFields.class_logits].dtype == (
      tf.float32)
  # 24 steps on one batch: the model learns it.
  losses = [step.train(tf.constant(1))[fields.LossFields.total]
            for _ in range(24)]
  assert np.all(np.isfinite(losses)), losses
  assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5]), losses


def _build(config, policy):
  config.train_config.mixed_precision = _MixedPrecision.Value(policy)
  model = model_builder.build_with_variables(
      config, config.train_input_reader, is_training=True)
  optimizer, _ = train_lib.build_optimizer(config.train_config)
  optimizer.build(model.trainable_variables)
  return model, optimizer


def _state(model, optimizer):
  """Every model variable and the optimizer's step and slots, as numpy."""
  return ([v.numpy() for v in model.variables],
          [v.numpy() for v in optimizer.variables])


def _training_outputs(model, batch):
  """F (as float32) and the class logits, in training mode.

  Batch statistics in the batch norms: in inference the untrained model's
  moving statistics shrink the features to ~1e-15, below float16's range;
  batch statistics keep them at unit scale, where the two precisions can
  be compared. F is compared rather than the logits, whose rows follow the
  proposals: a float16 RPN score that ties differently samples other ROIs.
  """
  predictions = model.predict(model.preprocess(batch), training=True,
                              groundtruth=batch)
  return (tf.cast(predictions[fields.PredictionFields.feature_map],
                  tf.float32),
          predictions[fields.PredictionFields.class_logits])


def test_a_float32_checkpoint_restores_under_mixed_precision_and_back(
    tmp_path):
  config = fx.tiny_step_config('acrn')
  batch = fx.tiny_batch(config)
  model, optimizer = _build(config, 'FLOAT32')
  # Momentum slots and the step with values of their own.
  for variable in optimizer.variables:
    variable.assign(tf.cast(tf.random.uniform(variable.shape, 0, 5, seed=1),
                            variable.dtype))
  saved = tf.train.Checkpoint(model=model, optimizer=optimizer).write(
      str(tmp_path / 'float32'))
  expected = _state(model, optimizer)
  float32_features, _ = _training_outputs(model, batch)

  mixed_model, mixed_optimizer = _build(config, 'MIXED_FLOAT16')
  assert isinstance(mixed_optimizer,
                    tf_keras.mixed_precision.LossScaleOptimizer)
  # Everything is restored but the loss scale, which a float32 job has
  # not: it starts at its initial value.
  tf.train.Checkpoint(model=mixed_model, optimizer=mixed_optimizer).read(
      saved).assert_nontrivial_match()
  assert float(mixed_optimizer.loss_scale) == 2.0**15
  for got, want in zip(_state(mixed_model, mixed_optimizer), expected):
    for a, b in zip(got, want):
      np.testing.assert_array_equal(a, b)
  saved_mixed = tf.train.Checkpoint(
      model=mixed_model, optimizer=mixed_optimizer).write(
          str(tmp_path / 'mixed'))
  # float16 compute on the restored weights: the logits stay float32 and F
  # near the float32 model's. float16 keeps 11 significant bits (5e-4
  # relative per rounding); through S3D-G's layers and batch norms over a
  # batch of one that grows to 2.6% of F's norm (measured); weights that
  # were not restored (a fresh random initialisation) differ by 116%.
  features, logits = _training_outputs(mixed_model, batch)
  assert logits.dtype == tf.float32
  assert np.linalg.norm(features - float32_features) < 0.1 * np.linalg.norm(
      float32_features)
  predictions = mixed_model.predict(mixed_model.preprocess(batch))
  assert predictions[fields.PredictionFields.feature_map].dtype == tf.float16
  detections = mixed_model.postprocess(predictions)
  assert {d.dtype for d in detections.values()} == {tf.float32}
  assert np.all(np.isfinite(
      detections[fields.DetectionResultFields.detection_scores]))

  back_model, back_optimizer = _build(config, 'FLOAT32')
  status = tf.train.Checkpoint(model=back_model,
                               optimizer=back_optimizer).read(saved_mixed)
  status.assert_existing_objects_matched()
  for got, want in zip(_state(back_model, back_optimizer), expected):
    for a, b in zip(got, want):
      np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize('relation', ['none', 'resize_concat', 'santoro',
                                      'acrn'])
def test_every_relation_module_trains_in_bfloat16(relation):
  # Resize+Concat joins float32 ROI crops with 16-bit scene maps outside a
  # Keras call, where nothing casts them: a float32 x bfloat16 Mul failed.
  config = fx.tiny_step_config(relation)
  config.train_config.mixed_precision = _MixedPrecision.Value(
      'MIXED_BFLOAT16')
  batch = fx.tiny_batch(config)
  model = model_builder.build_with_variables(
      config, config.train_input_reader, is_training=True)
  predictions = model.predict(model.preprocess(batch), training=True,
                              groundtruth=batch)
  total = model.loss(predictions, batch)[fields.LossFields.total]
  assert total.dtype == tf.float32
  assert np.isfinite(total.numpy())
