"""Tests of the trainer's step seeds, of its step compiled with XLA and of
resuming it from a checkpoint in process (the training loop itself is
exercised by train_lib_test and resume_after_kill_test)."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from acrn_tf.builders import model_builder
from acrn_tf.core import standard_fields as fields
from acrn_tf.training import evaluator
from acrn_tf.training import train_lib
from acrn_tf.training import trainer
from tests.training import training_fixtures as fx


def test_step_seed_is_the_run_seed_and_the_step():
  seed = trainer.step_seed(3, 5)
  assert seed.dtype == tf.int64
  np.testing.assert_array_equal(seed, [3, 5])


def test_step_seed_follows_a_step_variable():
  step = tf.Variable(0, dtype=tf.int64)

  @tf.function
  def seed_now():
    return trainer.step_seed(7, step)

  np.testing.assert_array_equal(seed_now(), [7, 0])
  step.assign(12)
  np.testing.assert_array_equal(seed_now(), [7, 12])


# ------------------------------------------- the step compiled with XLA

def _trainer(config, batch, use_xla: bool, weights=None, optimizer=None):
  """(trainer, model) on `batch` repeated; `weights` replace the initial.

  `optimizer` defaults to the config's.
  """
  model = model_builder.build_with_variables(
      config, config.train_input_reader, is_training=True)
  if weights is not None:
    model.set_weights(weights)
  if optimizer is None:
    optimizer, _ = train_lib.build_optimizer(config.train_config)
  iterator = iter(tf.data.Dataset.from_tensors(batch).repeat())
  step = trainer.DetectionTrainer(
      model, optimizer, iterator, tf.distribute.get_strategy(), 1,
      gradient_clipping_by_norm=config.train_config.gradient_clipping_by_norm,
      seed=3, use_xla=use_xla)
  step.build_metrics(fx.LOSS_NAMES)
  return step, model


# Losses: XLA fuses and reorders float32 reductions (convolution
# accumulation, means), which changes the last bits of each op; over the ~60
# layers of the forward pass that grows to ~1e-5 relative in a loss. 1e-4
# relative leaves a margin and is far below any real difference (another
# ROI or anchor moves a loss by more than 1e-2).
_LOSS_RTOL = 1e-4
# Gradients, compared as the relative L2 error of each checked variable's
# change (minus its gradient at learning rate 1) and of the gradient norm.
# Backpropagation multiplies those rounding differences again, most of all
# through the training-mode batch norms of a batch of one 4-frame clip
# (each divides by the spread of a few values, so the gradients behind them
# are small differences of large terms). Measured on this machine over
# several initialisations: below 1e-4 for the classifier and the RPN head,
# which no batch norm separates from the loss; ~1e-3 for the gradient norm;
# up to 5% for the first S3D-G convolution and the relation module's first
# kernel, behind the S3D-G blocks' batch norms. A real difference (another
# sampled ROI, a lost gradient path, a missing loss term) moves the shallow
# gradients by far more than 1e-3 and the deep ones by more than 20%.
_SHALLOW_GRADIENT_RTOL = 1e-3
_NORM_RTOL = 3e-2
_DEEP_GRADIENT_RTOL = 0.2


def _relative_error(actual, expected) -> float:
  return float(np.linalg.norm(np.asarray(actual) - expected)
               / max(np.linalg.norm(expected), 1e-12))


def _detections_agree(model, batch):
  """Evaluation's step with XLA against without, on the same weights.

  Detections are compared as sorted scores: among the near-equal scores of
  an untrained model, rounding may swap two detections' order.
  """
  numeric = {k: v for k, v in batch.items() if v.dtype != tf.string}
  plain = evaluator.detection_step(model)(numeric)
  compiled = evaluator.detection_step(model, use_xla=True)(numeric)
  assert set(compiled) == set(plain)
  num = fields.DetectionResultFields.num_detections
  np.testing.assert_array_equal(compiled[num], plain[num])
  scores = fields.DetectionResultFields.detection_scores
  np.testing.assert_allclose(np.sort(compiled[scores]),
                             np.sort(plain[scores]), rtol=_LOSS_RTOL,
                             atol=1e-6)


@pytest.mark.parametrize('relation, use_flow', [
    ('none', True), ('resize_concat', False), ('santoro', False),
    ('acrn', False)])
def test_xla_training_and_evaluation_steps_equal_the_plain_ones(
    relation, use_flow):
  tf_keras.utils.set_random_seed(0)
  config = fx.tiny_step_config(relation, use_flow)
  batch = fx.tiny_batch(config)
  plain, plain_model = _trainer(config, batch, use_xla=False)
  before = plain_model.get_weights()
  xla, xla_model = _trainer(config, batch, use_xla=True, weights=before)
  assert xla.use_xla and not plain.use_xla
  _detections_agree(plain_model, batch)

  plain_outputs = plain.train(tf.constant(1))
  xla_outputs = xla.train(tf.constant(1))
  for name in fx.LOSS_NAMES:
    np.testing.assert_allclose(xla_outputs[name], plain_outputs[name],
                               rtol=_LOSS_RTOL, err_msg=name)
  norm = trainer.GRADIENT_NORM
  assert plain_outputs[norm] > 0.0
  assert _relative_error(xla_outputs[norm], plain_outputs[norm]) < (
      _NORM_RTOL)
  # A few gradients: the classifier's, the relation module's first kernel,
  # the S3D-G stem's and the RPN head's, as the weight change of the step.
  initial = {id(w): value for w, value in zip(plain_model.weights, before)}
  variables = plain_model.trainable_variables
  names = [v.name for v in variables]
  wanted = [(names.index(next(n for n in names if prefix in n)), tolerance)
            for prefix, tolerance in (
                ('classifier/kernel', _SHALLOW_GRADIENT_RTOL),
                ('rpn_head', _SHALLOW_GRADIENT_RTOL),
                ('Conv2d_1a_7x7', _DEEP_GRADIENT_RTOL))]
  if relation != 'none':
    first = plain_model.relation_module.trainable_variables[0]
    wanted.append((next(i for i, v in enumerate(variables) if v is first),
                   _DEEP_GRADIENT_RTOL))
  errors = {}
  for index, tolerance in wanted:
    variable = variables[index]
    plain_change = variable.numpy() - initial[id(variable)]
    xla_change = (xla_model.trainable_variables[index].numpy()
                  - initial[id(variable)])
    assert np.abs(plain_change).max() > 0.0, names[index]
    errors[names[index]] = _relative_error(xla_change, plain_change)
    assert errors[names[index]] < tolerance, errors


# ------------------------------------------- resuming from a checkpoint

_RESUME_STEPS = 2


def _resumable(config, batch):
  """(trainer, model, optimizer, checkpoint of model and optimizer).

  The checkpoint holds what train_lib's holds but the input iterator (the
  batch here is always the same).
  """
  optimizer, _ = train_lib.build_optimizer(config.train_config)
  step, model = _trainer(config, batch, use_xla=False, optimizer=optimizer)
  checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
  return step, model, optimizer, checkpoint


def test_a_resumed_adam_run_ends_with_the_uninterrupted_runs_variables(
    tmp_path):
  # resume_after_kill_test checks momentum through model_main; Adam has two
  # slots per variable (m and v) and a bias correction that reads the step,
  # all of which a resumed run must restore.
  tf_keras.utils.set_random_seed(0)
  config = fx.tiny_step_config('none')
  config.train_config.optimizer.adam_optimizer.learning_rate \
      .constant_learning_rate.learning_rate = 1e-3
  batch = fx.tiny_batch(config)
  whole, whole_model, whole_optimizer, saved = _resumable(config, batch)
  assert isinstance(whole_optimizer, tf_keras.optimizers.Adam)
  whole.train(tf.constant(_RESUME_STEPS))
  path = saved.save(str(tmp_path / 'ckpt'))
  whole.train(tf.constant(_RESUME_STEPS))
  # The step and every slot are saved: m and v of each variable the step
  # updates (the optimizer's variables also list the step, saved once).
  names = [n for n, _ in tf.train.list_variables(path)]
  assert train_lib.STEP_KEY in names
  slots = [n for n in names if n.startswith('optimizer/_variables/')]
  assert len(slots) == len(whole_optimizer.variables) - 1 > 0

  resumed, resumed_model, resumed_optimizer, restored = _resumable(
      config, batch)
  status = restored.restore(path)
  assert int(resumed_optimizer.iterations.numpy()) == _RESUME_STEPS
  # The slots are created by the first step and restored then.
  resumed.train(tf.constant(_RESUME_STEPS))
  status.assert_consumed()

  assert int(resumed_optimizer.iterations.numpy()) == 2 * _RESUME_STEPS
  for mine, theirs in ((resumed_model.variables, whole_model.variables),
                       (resumed_optimizer.variables,
                        whole_optimizer.variables)):
    assert len(mine) == len(theirs)
    different = [a.name for a, b in zip(mine, theirs)
                 if not np.array_equal(a.numpy(), b.numpy())]
    assert not different, different
