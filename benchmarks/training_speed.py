"""Training steps per second and peak memory, through the training library.

The training library (`acrn_tf.training`) owns the train step: its loss,
optimizer, clipping and distribution. This module only times it. A step
factory takes the pipeline config and a batch dict and returns a callable
running one optimizer step on that batch:

  step = factory(pipeline_config, batch)   # batch keyed by InputDataFields
  step()

`detection_trainer_factory` adapts the library's orbit trainer
(`trainer.DetectionTrainer` over `model_builder.build_with_variables`,
with the config's use_xla and mixed_precision) to it;
`find_train_step_factory` says whether the library is there. The batch is
synthetic (random frames and boxes of the config's sizes) and repeated, so
the timing is the step's alone; the input pipeline is measured apart
(`input_throughput`).
"""

import dataclasses
import importlib
import multiprocessing
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

import tensorflow as tf

from acrn_tf.builders import config_util
from acrn_tf.builders import mixed_precision
from acrn_tf.builders import optimizer_builder
from acrn_tf.core import standard_fields as fields
from benchmarks import memory
from benchmarks import timing

TRAINER_MODULE = 'acrn_tf.training.trainer'
MODEL_BUILDER_MODULE = 'acrn_tf.builders.model_builder'
LOSS_NAMES = (fields.LossFields.rpn_objectness,
              fields.LossFields.rpn_localization,
              fields.LossFields.classification, fields.LossFields.localization,
              fields.LossFields.regularization, fields.LossFields.total)

StepFactory = Callable[[Any, Dict[str, tf.Tensor]], Callable[[], Any]]


def _training_modules():
  """(trainer module, model_builder module) or raises ImportError or
  AttributeError."""
  trainer = importlib.import_module(TRAINER_MODULE)
  builder = importlib.import_module(MODEL_BUILDER_MODULE)
  for module, name in ((trainer, 'DetectionTrainer'),
                       (builder, 'build_with_variables')):
    if not hasattr(module, name):
      raise AttributeError(f'{module.__name__} has no {name}')
  return trainer, builder


def find_train_step_factory() -> Tuple[Optional[StepFactory], str]:
  """The training library's step, adapted, if the library is there.

  Returns:
    (`detection_trainer_factory` or None, what was found or why not).
  """
  try:
    _training_modules()
  except (ImportError, AttributeError) as e:
    return None, f'{type(e).__name__}: {e}'
  return detection_trainer_factory, f'{TRAINER_MODULE}.DetectionTrainer'


def detection_trainer_factory(pipeline, batch: Dict[str, tf.Tensor]
                              ) -> Callable[[], Any]:
  """One `DetectionTrainer` loop of one step per call, on `batch` repeated.

  Builds what `train_lib.train` builds (model under the config's precision
  policy, optimizer from the config, the trainer with the config's gradient
  clipping, XLA setting and loss averages) on the default strategy, without
  checkpoints or summaries.

  Args:
    pipeline: the pipeline config.
    batch: a training batch dict (e.g. `synthetic_batch`).

  Returns:
    A callable running one training step; it returns the loop's outputs
    (losses, gradient norm, learning rate).
  """
  trainer_lib, builder = _training_modules()
  strategy = tf.distribute.get_strategy()
  train_config = pipeline.train_config
  batch_size = int(batch[fields.InputDataFields.frames].shape[0])
  with strategy.scope():
    model = builder.build_with_variables(
        pipeline, pipeline.train_input_reader, is_training=True)
    optimizer, _ = optimizer_builder.build(train_config.optimizer)
    optimizer = mixed_precision.wrap_optimizer(
        optimizer, mixed_precision.policy_name(train_config))
    dataset = tf.data.Dataset.from_tensors(batch).repeat()
    iterator = iter(strategy.experimental_distribute_dataset(dataset))
    trainer = trainer_lib.DetectionTrainer(
        model, optimizer, iterator, strategy, batch_size,
        gradient_clipping_by_norm=train_config.gradient_clipping_by_norm,
        use_xla=pipeline.model.video_faster_rcnn.use_xla)
    trainer.build_metrics(LOSS_NAMES)
  one_step = tf.constant(1, tf.int32)
  return lambda: trainer.train(one_step)


def synthetic_batch(pipeline, batch_size: int, seed: int = 0
                    ) -> Dict[str, tf.Tensor]:
  """A random training batch with the config's train reader sizes.

  Args:
    pipeline: the pipeline config (train_input_reader, the model's classes).
    batch_size: examples.
    seed: random seed.

  Returns:
    dict keyed by InputDataFields as `dataset_builder.build` yields it:
    frames uint8 [B, T, H, W, 3] (and flow float32 [B, T, H, W, 2] if the
    reader uses flow), keyframe, keyframe_index, true_image_shape, and
    groundtruth boxes (normalised), classes (multi-hot), track ids and
    validity for max_num_boxes boxes, 2 of them real.
  """
  reader = pipeline.train_input_reader
  num_frames, height, width = (reader.frames_per_clip, reader.image_height,
                               reader.image_width)
  num_classes = pipeline.model.video_faster_rcnn.action_head.num_classes
  max_boxes = max(reader.max_num_boxes, 2)
  generator = tf.random.Generator.from_seed(seed)
  frames = tf.cast(generator.uniform(
      [batch_size, num_frames, height, width, 3], 0, 256, tf.int32),
                   tf.uint8)
  keyframe_index = tf.fill([batch_size], num_frames // 2)
  corners = tf.sort(generator.uniform([batch_size, max_boxes, 2, 2], 0.05,
                                      0.95), axis=2)
  # Sorted along the point axis: [(ymin, xmin), (ymax, xmax)].
  boxes = tf.reshape(corners, [batch_size, max_boxes, 4])
  valid = tf.range(max_boxes)[tf.newaxis, :] < 2
  valid = tf.tile(valid, [batch_size, 1])
  classes = tf.one_hot(generator.uniform([batch_size, max_boxes], 0,
                                         num_classes, tf.int32), num_classes)
  batch = {
      fields.InputDataFields.frames: frames,
      fields.InputDataFields.keyframe_index: keyframe_index,
      fields.InputDataFields.keyframe: tf.gather(frames, keyframe_index,
                                                 axis=1, batch_dims=1),
      fields.InputDataFields.true_image_shape: tf.tile(
          tf.constant([[height, width, 3]], tf.int32), [batch_size, 1]),
      fields.InputDataFields.groundtruth_boxes: tf.where(
          valid[..., tf.newaxis], boxes, 0.0),
      fields.InputDataFields.groundtruth_classes: tf.where(
          valid[..., tf.newaxis], classes, 0.0),
      fields.InputDataFields.groundtruth_track_ids: tf.where(
          valid, tf.range(max_boxes)[tf.newaxis, :], -1),
      fields.InputDataFields.groundtruth_valid: valid,
      fields.InputDataFields.num_groundtruth_boxes: tf.fill([batch_size], 2),
  }
  if reader.use_flow:
    batch[fields.InputDataFields.flow] = generator.normal(
        [batch_size, num_frames, height, width, 2])
  return batch


@dataclasses.dataclass(frozen=True)
class TrainingSpeedResult:
  """Training step rate and memory.

  Attributes:
    config_path: the pipeline.config.
    factory_name: the train-step factory used.
    batch_size: examples per step.
    clip_shape: (frames, height, width) per example.
    stats: per-step timing.
    peak_rss_bytes: peak resident memory sampled while stepping (warm-up
      included).
    start_rss_bytes: resident memory before the step was built.
    process_peak_rss_bytes: the process's lifetime peak RSS after
      the steps (VmHWM on Linux).
  """
  config_path: str
  factory_name: str
  batch_size: int
  clip_shape: Tuple[int, int, int]
  stats: timing.TimingStats
  peak_rss_bytes: Optional[int]
  start_rss_bytes: Optional[int]
  process_peak_rss_bytes: int

  @property
  def steps_per_second(self) -> float:
    return 1.0 / self.stats.median_seconds

  @property
  def examples_per_second(self) -> float:
    return self.batch_size / self.stats.median_seconds


def measure_training(config_path: str, factory: StepFactory,
                     factory_name: str = 'train step',
                     num_steps: int = 10, num_warmup: int = 2,
                     batch_size: Optional[int] = None,
                     overrides: Sequence[str] = ()) -> TrainingSpeedResult:
  """Times `num_steps` training steps of the config's model.

  Args:
    config_path: the pipeline.config.
    factory: (pipeline config, batch dict) -> a callable running one
      training step on the batch.
    factory_name: for the report.
    num_steps: timed steps.
    num_warmup: untimed steps first (tracing, compilation).
    batch_size: instead of train_config.batch_size.
    overrides: key=value overrides of the config (e.g.
      'model.video_faster_rcnn.use_xla=true').

  Returns:
    `TrainingSpeedResult`.
  """
  pipeline = config_util.load_pipeline_config(config_path,
                                              overrides=list(overrides))
  batch_size = batch_size or pipeline.train_config.batch_size or 1
  batch = synthetic_batch(pipeline, batch_size)
  reader = pipeline.train_input_reader
  with memory.PeakRssSampler() as sampler:
    step = factory(pipeline, batch)
    stats = timing.time_callable(step, num_steps, num_warmup,
                                 block=timing.wait_for)
  return TrainingSpeedResult(
      config_path=config_path, factory_name=factory_name,
      batch_size=batch_size,
      clip_shape=(reader.frames_per_clip, reader.image_height,
                  reader.image_width),
      stats=stats, peak_rss_bytes=sampler.peak_bytes,
      start_rss_bytes=sampler.start_bytes,
      process_peak_rss_bytes=memory.process_peak_rss_bytes())


def _measure_with_library(config_path: str, num_steps: int, num_warmup: int,
                          batch_size: Optional[int],
                          overrides: Sequence[str] = ()
                          ) -> TrainingSpeedResult:
  """`measure_training` with the library's step (run in a child process)."""
  factory, found = find_train_step_factory()
  if factory is None:
    raise ImportError(found)
  return measure_training(config_path, factory, found, num_steps,
                          num_warmup, batch_size, overrides)


def measure_training_isolated(config_path: str, num_steps: int = 10,
                              num_warmup: int = 2,
                              batch_size: Optional[int] = None,
                              overrides: Sequence[str] = ()
                              ) -> TrainingSpeedResult:
  """`measure_training` with the library's step in a fresh process.

  A process that ran bigger models before keeps their memory, so the peak
  RSS of a tiny training run is only meaningful in a process of its own
  (spawned: TensorFlow is imported anew, its baseline included).

  Raises:
    ImportError: the training library has no train step.
  """
  context = multiprocessing.get_context('spawn')
  with context.Pool(1) as pool:
    return pool.apply(_measure_with_library,
                      (config_path, num_steps, num_warmup, batch_size,
                       tuple(overrides)))
