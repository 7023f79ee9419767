"""The training step on tf.distribute, as an orbit `StandardTrainer`.

Each replica runs preprocess -> predict (ROIs sampled against the ground
truth) -> loss on its part of the global batch, scales the total loss by the
number of replicas (the optimizer sums the replicas' gradients), clips the
gradients' global norm and applies them. The step's random draws (ROI and
anchor sampling, dropout) come from the stateless seed (seed, global step)
(folded with the replica id when there are several), so a job resumed from
a checkpoint repeats exactly the steps of a job that was never stopped.
With `use_xla` the replica step, forward pass, gradients, clipping and
optimizer update included, is one XLA computation (`tf.function(
jit_compile=True)`, as a TPU compiles it; see `_make_replica_step` for
several GPU replicas); the batch's string features (video ids) stay
outside it, and the loss averages are updated outside it from the losses
it returns. Under the mixed_float16 policy the optimizer is a
`LossScaleOptimizer`: the loss is scaled before the gradients and the
gradients unscaled before clipping (a step with non-finite scaled gradients
is skipped and the scale lowered).
Every loss term, the gradient norm before clipping and the learning rate are
averaged over the loop and returned by `train_loop_end`, which orbit's
Controller writes to TensorBoard; a loop whose loss is not finite raises
`NonFiniteLossError` before the Controller saves anything, so the last
checkpoint stays the last good one.
"""

import time
from typing import Dict, Optional

from absl import logging
import numpy as np
import orbit
import tensorflow as tf
import tf_keras

from acrn_tf.core import progress_line
from acrn_tf.core import standard_fields as fields
from acrn_tf.core import stateless_sampling

GRADIENT_NORM = 'gradient_norm'
LEARNING_RATE = 'learning_rate'
EXAMPLES_PER_SECOND = 'examples_per_second'


class NonFiniteLossError(RuntimeError):
  """A training loss became NaN or infinite."""


class DetectionTrainer(orbit.StandardTrainer):
  """Trains a `VideoFasterRCNN` / `ACRNMetaArch` with SGD on a strategy."""

  def __init__(self,
               model,
               optimizer: tf_keras.optimizers.Optimizer,
               train_iterator,
               strategy: tf.distribute.Strategy,
               global_batch_size: int,
               gradient_clipping_by_norm: float = 0.0,
               total_steps: Optional[int] = None,
               seed: int = 0,
               use_xla: bool = False):
    """Initialises the trainer.

    Args:
      model: the detection model (variables built).
      optimizer: its optimizer, created in `strategy.scope()`.
      train_iterator: an iterator over distributed batches (checkpointed
        with the model, so a restart resumes the data where it stopped).
      strategy: the distribution strategy.
      global_batch_size: examples per step over all replicas.
      gradient_clipping_by_norm: clip each replica's gradients to this
        global norm (0: no clipping).
      total_steps: the step training ends at, for the time-left estimate.
      seed: the run's seed (train_config.seed); step k's random draws use
        the stateless seed [seed, k].
      use_xla: compile each replica's step with XLA (jit_compile). XLA
        draws its own Philox stream, so a compiled step samples other ROIs
        and anchors than an uncompiled one with the same seed (equally
        reproducible: a job resumed with XLA repeats the same steps).
    """
    self._model = model
    self._optimizer = optimizer
    self._strategy = strategy
    self._global_batch_size = global_batch_size
    self._clip_norm = gradient_clipping_by_norm
    self._total_steps = total_steps
    self._seed = int(seed)
    self._use_xla = bool(use_xla)
    self._replica_step = self._make_replica_step()
    with strategy.scope():
      self._means = {}
    self._loop_start = None
    self._loop_start_step = None
    super().__init__(
        train_dataset=train_iterator,
        options=orbit.StandardTrainerOptions(use_tf_while_loop=False))

  @property
  def global_step(self) -> tf.Variable:
    return self._optimizer.iterations

  def _mean(self, name: str) -> tf_keras.metrics.Mean:
    if name not in self._means:
      with self._strategy.scope():
        self._means[name] = tf_keras.metrics.Mean(name, dtype=tf.float32)
    return self._means[name]

  def build_metrics(self, loss_names):
    """Creates the loop averages (call before the first step)."""
    for name in list(loss_names) + [GRADIENT_NORM]:
      self._mean(name)

  def train_loop_begin(self):
    for metric in self._means.values():
      metric.reset_state()
    self._loop_start = time.time()
    self._loop_start_step = int(self.global_step.numpy())

  @property
  def use_xla(self) -> bool:
    return self._use_xla

  def _make_replica_step(self):
    """One replica's step: (numeric batch, seed) -> (losses, gradient norm).

    Everything in it compiles with XLA: the batch holds no strings and the
    loss averages (Keras metrics) are updated by the caller. Where it is
    compiled depends on the strategy:
      * one replica: `tf.function(jit_compile=True)` here;
      * a TPU: TPUStrategy compiles the whole replica step itself;
      * several replicas on GPUs or CPUs (MirroredStrategy, multi-worker):
        not compiled. The step holds cross-replica calls (the optimizer's
        sum of the replicas' gradients, the RPN box loss's normaliser in
        Model Garden), which cannot run inside a compiled function nested
        in `strategy.run`; TF_XLA_FLAGS=--tf_xla_auto_jit=2 compiles the
        clusters between them instead.
    """
    model = self._model
    optimizer = self._optimizer
    num_replicas = self._strategy.num_replicas_in_sync
    clip_norm = self._clip_norm
    loss_scaled = isinstance(optimizer,
                             tf_keras.mixed_precision.LossScaleOptimizer)

    # Plain TensorFlow code: AutoGraph conversion would only add tracing
    # time (it more than doubles it for this model).
    @tf.autograph.experimental.do_not_convert
    def replica_step(batch, seed):
      with tf.GradientTape() as tape:
        predictions = model.predict(model.preprocess(batch), training=True,
                                    groundtruth=batch, seed=seed)
        losses = model.loss(predictions, batch)
        scaled = losses[fields.LossFields.total] / num_replicas
        if loss_scaled:
          scaled = optimizer.get_scaled_loss(scaled)
      variables = model.trainable_variables
      gradients = tape.gradient(scaled, variables)
      # Variables no loss reaches (e.g. ResNet levels the RPN does not
      # read) have no gradient.
      pairs = [(g, v) for g, v in zip(gradients, variables) if g is not None]
      gradients = [g for g, _ in pairs]
      if loss_scaled:
        gradients = optimizer.get_unscaled_gradients(gradients)
      norm = tf.linalg.global_norm(gradients) * num_replicas
      if clip_norm > 0:
        gradients, _ = tf.clip_by_global_norm(gradients,
                                              clip_norm / num_replicas)
      optimizer.apply_gradients(zip(gradients, [v for _, v in pairs]))
      return losses, norm

    if not self._use_xla or isinstance(self._strategy,
                                       tf.distribute.TPUStrategy):
      return replica_step
    if num_replicas > 1:
      logging.warning(
          'use_xla: the step of %d replicas on %s is not compiled as one '
          'XLA computation (its cross-replica calls cannot be inside one); '
          'set TF_XLA_FLAGS=--tf_xla_auto_jit=2 to compile its parts.',
          num_replicas, type(self._strategy).__name__)
      return replica_step
    return tf.function(replica_step, jit_compile=True)

  def train_step(self, iterator):
    num_replicas = self._strategy.num_replicas_in_sync
    means = self._means
    run_seed = self._seed
    global_step = self.global_step
    replica_step = self._replica_step

    @tf.autograph.experimental.do_not_convert
    def step_fn(batch):
      seed = step_seed(run_seed, global_step)
      if num_replicas > 1:
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        seed = stateless_sampling.fold_in(seed, replica)
      losses, norm = replica_step(numeric_features(batch), seed)
      for name, value in losses.items():
        means[name].update_state(value)
      means[GRADIENT_NORM].update_state(norm)

    self._strategy.run(step_fn, args=(next(iterator),))

  def learning_rate(self) -> float:
    rate = self._optimizer.learning_rate
    if isinstance(rate, tf_keras.optimizers.schedules.LearningRateSchedule):
      rate = rate(self.global_step)
    return float(tf.convert_to_tensor(rate))

  def train_loop_end(self) -> Dict[str, float]:
    step = int(self.global_step.numpy())
    outputs = {name: float(metric.result())
               for name, metric in self._means.items()}
    bad = {k: v for k, v in outputs.items() if not np.isfinite(v)}
    if bad:
      terms = ', '.join(f'{k}={v}' for k, v in sorted(outputs.items()))
      raise NonFiniteLossError(
          f'non-finite training loss at steps {self._loop_start_step + 1}-'
          f'{step}: {terms}. Training stopped; the last checkpoint is the '
          'last good one.')
    elapsed = max(time.time() - self._loop_start, 1e-9)
    steps = step - self._loop_start_step
    examples_per_second = steps * self._global_batch_size / elapsed
    outputs[LEARNING_RATE] = self.learning_rate()
    outputs[EXAMPLES_PER_SECOND] = examples_per_second
    eta = ''
    if self._total_steps and steps:
      left = (self._total_steps - step) * elapsed / steps
      eta = f', {progress_line.format_seconds(left)} left'
    logging.info('step %d/%s: loss %.4f, %.1f examples/s%s', step,
                 self._total_steps or '?',
                 outputs.get(fields.LossFields.total, float('nan')),
                 examples_per_second, eta)
    return outputs


def numeric_features(batch: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
  """`batch` without its string features (XLA compiles no string op)."""
  return {key: value for key, value in batch.items()
          if value.dtype != tf.string}


def step_seed(seed: int, step) -> tf.Tensor:
  """The stateless seed int64 [2] of a training step: [seed, step].

  Args:
    seed: the run's seed (train_config.seed).
    step: the global step before the update (0 for the first step), an int
      or an integer tensor / variable.
  """
  return tf.stack([tf.constant(seed, tf.int64),
                   tf.cast(tf.convert_to_tensor(step), tf.int64)])
