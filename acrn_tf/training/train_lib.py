"""model_main's jobs: train, evaluate continuously, train and evaluate.

A job is a pipeline config and a model directory, as in the OD API:
  * `train`: checks the config against its label maps and records
    (`input_validation`), builds the strategy, the input, the model and
    the optimizer, restores the latest checkpoint of model_dir (model,
    optimizer, step and the input iterator's position) or else
    warm-starts from `fine_tune_checkpoint` or the `warm_start_source`s,
    and runs orbit's Controller to
    `num_steps`, saving a checkpoint at every multiple of
    `checkpoint_every_n` (keeping `max_to_keep`) and TensorBoard summaries
    every `summary_every_n`; with `eval_every_n_steps` it evaluates in the
    same process too. A model_dir already trained to `num_steps` is left
    as it is, without building anything.
  * `evaluate_continuously`: given a checkpoint prefix, evaluates it once;
    given a directory, evaluates every checkpoint that appears in it
    (written by a separate training job) until `eval_timeout` seconds pass
    without a new one or the last step is evaluated. A path without a
    checkpoint is an error.
The merged pipeline config is written to model_dir beside the checkpoints;
evaluation, export and inference refuse a config whose clip differs from it
(`input_validation.check_trained_clip`).
Both jobs build the model under train_config.mixed_precision's policy and,
with model.video_faster_rcnn.use_xla, compile the replica steps with XLA.
"""

import dataclasses
import os
from typing import Dict, Optional

from absl import logging
import orbit
import tensorflow as tf
import tf_keras

from acrn_tf.builders import config_util
from acrn_tf.builders import config_warnings
from acrn_tf.builders import dataset_builder
from acrn_tf.builders import input_validation
from acrn_tf.builders import model_builder
from acrn_tf.builders import optimizer_builder
from acrn_tf.core import checkpoint_paths
from acrn_tf.core import standard_fields as fields
from acrn_tf.protos import pipeline_pb2
from acrn_tf.training import checkpoint_manager
from acrn_tf.training import checkpoints
from acrn_tf.training import distribution
from acrn_tf.training import evaluator as evaluator_lib
from acrn_tf.training import freezing
from acrn_tf.builders import mixed_precision
from acrn_tf.training import trainer as trainer_lib

EVAL_DIR = 'eval'
TRAIN_DIR = 'train'
# The optimizer's step counter in a training checkpoint.
STEP_KEY = 'optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE'


@dataclasses.dataclass
class JobOptions:
  """Command-line settings of a job (the config holds the rest).

  Attributes:
    use_tpu, tpu_name, num_workers: see `distribution.build_strategy`.
    sample_1_of_n_eval_examples: evaluate every n-th example.
    eval_timeout: seconds the continuous evaluator waits for a checkpoint.
    eval_every_n_steps: in `train`, evaluate every this many steps (0: no).
    config_path: the pipeline config's file, named in errors.
  """
  use_tpu: bool = False
  tpu_name: str = ''
  num_workers: int = 1
  sample_1_of_n_eval_examples: int = 1
  eval_timeout: float = 3600.0
  eval_every_n_steps: int = 0
  config_path: str = 'pipeline config'


def build_optimizer(train_config):
  """The config's optimizer, loss-scaled under mixed_float16.

  Returns:
    (optimizer, learning rate or schedule).
  """
  optimizer, learning_rate = optimizer_builder.build(train_config.optimizer)
  return mixed_precision.wrap_optimizer(
      optimizer, mixed_precision.policy_name(train_config)), learning_rate


def _eval_reader(config, options: JobOptions):
  """`config_util.eval_input_reader`, read once in order, every n-th."""
  reader = pipeline_pb2.TrainEvalPipelineConfig().eval_input_reader.add()
  reader.CopyFrom(config_util.eval_input_reader(config))
  if options.sample_1_of_n_eval_examples > 1:
    reader.sample_1_of_n_examples = options.sample_1_of_n_eval_examples
  reader.num_epochs = 1
  reader.shuffle = False
  # In file order: parallel decoding may otherwise hand the examples over in
  # another order, and eval_config.num_examples would then evaluate other
  # keyframes from one evaluation to the next.
  reader.deterministic = True
  return reader


def _make_evaluator(config, model, strategy, model_dir, options, global_step,
                    label_map):
  reader = _eval_reader(config, options)
  batch_size = max(config.eval_config.batch_size, 1)
  label_ids = sorted(label_map)
  dataset = strategy.distribute_datasets_from_function(
      lambda context: dataset_builder.build(
          reader, batch_size, is_training=False, label_ids=label_ids,
          input_context=context))
  return evaluator_lib.DetectionEvaluator(
      model, dataset, strategy, config.eval_config, label_map,
      output_dir=os.path.join(model_dir, EVAL_DIR),
      summary_dir=os.path.join(model_dir, EVAL_DIR),
      global_step=global_step, use_xla=model.use_xla)


def train(config: pipeline_pb2.TrainEvalPipelineConfig, model_dir: str,
          options: Optional[JobOptions] = None) -> Dict[str, float]:
  """Trains to `train_config.num_steps`; returns the last loop's outputs.

  Raises:
    trainer.NonFiniteLossError: the loss became NaN or infinite.
    ValueError: a bad config or input.
  """
  options = options or JobOptions()
  train_config = config.train_config
  if train_config.num_steps < 1:
    raise ValueError('train_config.num_steps must be >= 1 to train, got '
                     f'{train_config.num_steps}')
  if _already_trained(model_dir, train_config.num_steps):
    return {}
  if (options.use_tpu and mixed_precision.policy_name(train_config) ==
      'mixed_float16'):
    raise ValueError('train_config.mixed_precision: TPUs compute in '
                     'bfloat16, not float16; use MIXED_BFLOAT16 with '
                     '--use_tpu')
  for warning in (config_warnings.stale_batch_norm_warning(config),
                  config_warnings.partial_eval_batch_warning(config),
                  config_warnings.frozen_from_scratch_warning(config)):
    if warning:
      logging.warning('%s', warning)
  latest = tf.train.latest_checkpoint(model_dir)
  if latest is not None:  # resuming: the clip must be the one trained on
    input_validation.check_trained_clip(config, options.config_path,
                                       latest)
  # The strategy first: MultiWorkerMirroredStrategy must configure the
  # runtime before anything else touches it (reading records does; the
  # checks above read files only).
  strategy = distribution.build_strategy(options.use_tpu, options.tpu_name,
                                         options.num_workers)
  # Before any model is built.
  input_validation.validate_inputs(
      config, options.config_path, input_validation.readers_of(
          config, train=True, evaluate=options.eval_every_n_steps > 0))
  if train_config.deterministic:
    tf.config.experimental.enable_op_determinism()
  tf_keras.utils.set_random_seed(train_config.seed)
  own_dir = distribution.worker_model_dir(model_dir, strategy)
  tf.io.gfile.makedirs(own_dir)
  config_util.save_pipeline_config(config, own_dir)
  reader = config.train_input_reader
  # Read once: the training input and the in-process evaluator share it.
  label_map = model_builder.model_label_map(config)
  label_ids = sorted(label_map)
  batch_size = train_config.batch_size

  with strategy.scope():
    model = model_builder.build_with_variables(config, reader,
                                               is_training=True)
    freezing.freeze(model, train_config)
    optimizer, _ = build_optimizer(train_config)
    dataset = strategy.distribute_datasets_from_function(
        lambda context: dataset_builder.build(
            reader, batch_size, is_training=True, label_ids=label_ids,
            input_context=context))
    iterator = iter(dataset)
    state = dict(model=model, optimizer=optimizer)
    if isinstance(iterator, tf.__internal__.tracking.Trackable):
      state['iterator'] = iterator
    else:
      logging.warning('%s cannot checkpoint its input iterator: a restarted '
                      'job reads its input from the start of its seeded '
                      'order.', type(strategy).__name__)
    checkpoint = tf.train.Checkpoint(**state)
    manager = checkpoint_manager.IntervalCheckpointManager(
        checkpoint, own_dir, max_to_keep=train_config.max_to_keep or 7,
        step_counter=optimizer.iterations,
        checkpoint_interval=train_config.checkpoint_every_n or None)
    trainer = trainer_lib.DetectionTrainer(
        model, optimizer, iterator, strategy, batch_size,
        gradient_clipping_by_norm=train_config.gradient_clipping_by_norm,
        total_steps=train_config.num_steps, seed=train_config.seed,
        use_xla=model.use_xla)
    trainer.build_metrics(
        [fields.LossFields.rpn_objectness, fields.LossFields.rpn_localization,
         fields.LossFields.classification, fields.LossFields.localization,
         fields.LossFields.regularization, fields.LossFields.total])
  if manager.latest_checkpoint is None and (
      train_config.fine_tune_checkpoint or train_config.warm_start_source):
    checkpoints.warm_start(model, train_config)

  evaluator = None
  if options.eval_every_n_steps > 0:
    evaluator = _make_evaluator(config, model, strategy, own_dir, options,
                                optimizer.iterations, label_map)
  controller = orbit.Controller(
      strategy=strategy, trainer=trainer, evaluator=evaluator,
      global_step=optimizer.iterations,
      steps_per_loop=max(train_config.steps_per_loop, 1),
      checkpoint_manager=manager,
      summary_interval=train_config.summary_every_n or None,
      summary_dir=os.path.join(own_dir, TRAIN_DIR),
      eval_summary_dir=os.path.join(own_dir, EVAL_DIR))
  start = int(optimizer.iterations.numpy())
  if start:
    logging.info('Resumed from %s at step %d.', manager.latest_checkpoint,
                 start)
  if start >= train_config.num_steps:
    logging.info('Already trained to step %d >= num_steps %d.', start,
                 train_config.num_steps)
    return {}
  if evaluator is not None:
    controller.train_and_evaluate(
        train_steps=train_config.num_steps,
        eval_steps=eval_steps(config),
        eval_interval=options.eval_every_n_steps)
  else:
    controller.train(steps=train_config.num_steps)
  return {}


def _already_trained(model_dir: str, num_steps: int) -> bool:
  """Whether model_dir's latest checkpoint is at num_steps or beyond (logged).

  Checked before anything is built: restoring a finished training into a
  model that then runs no step leaves the optimizer's slots unrestored, and
  TensorFlow warns about every one of them. The step is read from the
  checkpoint's name (training saves ckpt-<step>): opening the checkpoint
  would start the runtime before the distribution strategy configures it.
  """
  latest = tf.train.latest_checkpoint(model_dir)
  if latest is None:
    return False
  step = checkpoint_manager.step_from_name(latest)
  if step < num_steps:
    return False
  logging.info('Nothing to train: %s is at step %d and train_config.num_steps '
               'is %d (raise --num_train_steps to train on).', latest, step,
               num_steps)
  return True


class _CheckpointEvaluator:
  """One model and evaluator that evaluate checkpoints one after another.

  Built once, so that a continuous evaluation reads each new checkpoint into
  the same variables and reuses the traced eval step.
  """

  def __init__(self, config: pipeline_pb2.TrainEvalPipelineConfig,
               output_dir: str, options: JobOptions):
    input_validation.validate_inputs(
        config, options.config_path,
        input_validation.readers_of(config, train=False, evaluate=True))
    strategy = distribution.build_strategy(options.use_tpu, options.tpu_name)
    with strategy.scope():
      model = model_builder.build_with_variables(
          config, _eval_reader(config, options), is_training=False)
      self._step = tf.Variable(0, dtype=tf.int64, trainable=False)
    self._config = config
    self._config_path = options.config_path
    self._checkpoint = tf.train.Checkpoint(model=model)
    self._evaluator = _make_evaluator(config, model, strategy, output_dir,
                                      options, self._step,
                                      model_builder.model_label_map(config))
    self._num_batches = eval_steps(config)
    self._writer = tf.summary.create_file_writer(
        os.path.join(output_dir, EVAL_DIR))

  def __call__(self, checkpoint_path: str) -> Dict:
    """Evaluates one checkpoint; returns the metric dicts by metric name."""
    input_validation.check_trained_clip(self._config, self._config_path,
                                         checkpoint_path)
    self._checkpoint.read(checkpoint_path).expect_partial()
    self._step.assign(_checkpoint_step(checkpoint_path))
    scalars = self._evaluator.evaluate(tf.constant(self._num_batches))
    with self._writer.as_default():
      for name, value in scalars.items():
        tf.summary.scalar(name, value, step=int(self._step.numpy()))
    self._writer.flush()
    return self._evaluator.last_metrics


def evaluate_checkpoint(config: pipeline_pb2.TrainEvalPipelineConfig,
                        checkpoint_path: str, output_dir: str,
                        options: Optional[JobOptions] = None) -> Dict:
  """Evaluates one checkpoint; returns the metric dicts by metric name."""
  return _CheckpointEvaluator(config, output_dir,
                              options or JobOptions())(checkpoint_path)


def eval_steps(config: pipeline_pb2.TrainEvalPipelineConfig) -> int:
  """Batches one evaluation reads: enough for num_examples, or all (-1)."""
  num = config.eval_config.num_examples
  if num <= 0:
    return -1
  return -(-num // max(config.eval_config.batch_size, 1))


def _checkpoint_step(path: str) -> int:
  """The training step a checkpoint was saved at (the optimizer's)."""
  reader = tf.train.load_checkpoint(path)
  if reader.has_tensor(STEP_KEY):
    return int(reader.get_tensor(STEP_KEY))
  return int(path.rsplit('-', 1)[-1]) if '-' in path else 0


def evaluate_continuously(config: pipeline_pb2.TrainEvalPipelineConfig,
                          checkpoint_dir: str, model_dir: str,
                          options: Optional[JobOptions] = None) -> Dict:
  """Evaluates a checkpoint, or each new one of a directory; returns the last.

  Args:
    config: the pipeline config.
    checkpoint_dir: a checkpoint prefix (`.../ckpt-210`), evaluated once; or
      a training job's model_dir, whose checkpoints are evaluated as they
      appear until `eval_timeout` seconds pass without a new one, or one at
      `train_config.num_steps` is evaluated. A directory without
      checkpoints is waited on only while a training job has started there
      (it writes pipeline.config first).
    model_dir: where the evaluation's summaries and reports go.
    options: see `JobOptions`.

  Raises:
    checkpoint_paths.CheckpointNotFoundError: no checkpoint at the path,
      or none appeared within `eval_timeout`.
  """
  options = options or JobOptions()
  what = '--checkpoint_dir'
  if not tf.io.gfile.isdir(checkpoint_dir):
    path = checkpoint_paths.resolve(checkpoint_dir, what)
    logging.info('Evaluating %s once.', path)
    return _CheckpointEvaluator(config, model_dir, options)(path)
  started = tf.io.gfile.exists(
      os.path.join(checkpoint_dir, config_util.PIPELINE_CONFIG_NAME))
  if tf.train.latest_checkpoint(checkpoint_dir) is None and not started:
    raise checkpoint_paths.CheckpointNotFoundError(
        f'{what} {checkpoint_dir}: no checkpoint in this directory and no '
        f'training job started there (it would have written '
        f'{config_util.PIPELINE_CONFIG_NAME}); give a model_dir or a '
        'checkpoint prefix such as DIR/ckpt-N')
  evaluate = None
  last = {}
  for path in tf.train.checkpoints_iterator(
      checkpoint_dir, min_interval_secs=1, timeout=options.eval_timeout):
    logging.info('Evaluating %s.', path)
    if evaluate is None:  # built with the first checkpoint, then reused
      evaluate = _CheckpointEvaluator(config, model_dir, options)
    last = evaluate(path)
    if _checkpoint_step(path) >= config.train_config.num_steps > 0:
      break
  if evaluate is None:
    raise checkpoint_paths.CheckpointNotFoundError(
        f'{what} {checkpoint_dir}: no checkpoint appeared in '
        f'{options.eval_timeout:g} s (--eval_timeout)')
  return last
