"""training_speed: the synthetic batch, the factory search and the timing."""

import os

import pytest
import tensorflow as tf

from acrn_tf.builders import config_util
from acrn_tf.core import standard_fields as fields
from benchmarks import training_speed

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
_ACRN_TINY = os.path.join(_REPO, 'configs', 'synthetic', 'acrn_tiny.config')


def test_synthetic_batch_has_the_readers_layout():
  pipeline = config_util.load_pipeline_config(_ACRN_TINY)
  batch = training_speed.synthetic_batch(pipeline, batch_size=2)
  assert batch[fields.InputDataFields.frames].shape == [2, 8, 96, 128, 3]
  assert batch[fields.InputDataFields.frames].dtype == tf.uint8
  assert batch[fields.InputDataFields.keyframe].shape == [2, 96, 128, 3]
  assert batch[fields.InputDataFields.groundtruth_boxes].shape == [2, 8, 4]
  assert batch[fields.InputDataFields.groundtruth_classes].shape == [2, 8, 6]
  valid = batch[fields.InputDataFields.groundtruth_valid].numpy()
  assert valid.sum(axis=1).tolist() == [2, 2]
  boxes = batch[fields.InputDataFields.groundtruth_boxes].numpy()
  real = boxes[valid]
  assert (real[:, 0] < real[:, 2]).all() and (real[:, 1] < real[:, 3]).all()
  assert (boxes[~valid] == 0).all()
  assert fields.InputDataFields.flow not in batch


def test_factory_search():
  factory, found = training_speed.find_train_step_factory()
  if factory is None:
    assert found.startswith(('ImportError', 'ModuleNotFoundError',
                             'AttributeError'))
  else:
    assert factory is training_speed.detection_trainer_factory
    assert found == 'acrn_tf.training.trainer.DetectionTrainer'


class _FakeTrainer:
  """Records how the adapter builds and drives the library's trainer."""

  instances = []

  def __init__(self, model, optimizer, iterator, strategy, global_batch_size,
               gradient_clipping_by_norm=0.0, use_xla=False):
    self.model = model
    self.use_xla = use_xla
    self.optimizer = optimizer
    self.first_batch = next(iterator)
    self.global_batch_size = global_batch_size
    self.clip_norm = gradient_clipping_by_norm
    self.metrics = None
    self.steps = []
    _FakeTrainer.instances.append(self)

  def build_metrics(self, names):
    self.metrics = list(names)

  def train(self, num_steps):
    self.steps.append(int(num_steps))
    return {'total_loss': 1.0}


def test_detection_trainer_adapter(monkeypatch):
  built = []

  class TrainerModule:
    DetectionTrainer = _FakeTrainer

  class ModelBuilderModule:

    @staticmethod
    def build_with_variables(config, reader, is_training):
      built.append((reader.frames_per_clip, is_training))
      return 'model'

  monkeypatch.setattr(training_speed, '_training_modules',
                      lambda: (TrainerModule, ModelBuilderModule))
  pipeline = config_util.load_pipeline_config(_ACRN_TINY)
  batch = training_speed.synthetic_batch(pipeline, batch_size=2)
  step = training_speed.detection_trainer_factory(pipeline, batch)
  (trainer,) = _FakeTrainer.instances
  assert built == [(8, True)]
  assert trainer.global_batch_size == 2
  assert trainer.clip_norm == 10.0  # The config's gradient_clipping_by_norm.
  assert trainer.use_xla == pipeline.model.video_faster_rcnn.use_xla
  # The config's momentum optimizer (not loss-scaled under float32).
  assert type(trainer.optimizer).__name__ == 'SGD'
  assert trainer.optimizer.get_config()['momentum'] == pytest.approx(0.9)
  assert trainer.metrics == list(training_speed.LOSS_NAMES)
  assert trainer.first_batch[fields.InputDataFields.frames].shape == (
      [2, 8, 96, 128, 3])
  assert step() == {'total_loss': 1.0} and trainer.steps == [1]


def test_measure_training_with_a_given_factory(tmp_path):
  seen = {}

  def factory(pipeline, batch):
    seen['batch_size'] = pipeline.train_config.batch_size
    variable = tf.Variable(0.0)

    @tf.function
    def step():
      frames = tf.cast(batch[fields.InputDataFields.frames], tf.float32)
      variable.assign_add(tf.reduce_mean(frames))
      return variable.read_value()

    return step

  result = training_speed.measure_training(
      _ACRN_TINY, factory, 'fake.step', num_steps=3, num_warmup=1,
      batch_size=2)
  assert seen['batch_size'] == 4  # The config's; the batch is 2.
  assert result.batch_size == 2 and result.clip_shape == (8, 96, 128)
  assert result.stats.num_repeats == 3
  assert result.examples_per_second == 2 * result.steps_per_second
  assert result.peak_rss_bytes >= result.start_rss_bytes > 0
  # getrusage and /proc count pages a little differently.
  assert result.process_peak_rss_bytes >= 0.9 * result.peak_rss_bytes


def test_isolated_run_reports_a_missing_library(monkeypatch):
  # The child process imports the library itself; a stand-in parent check
  # of the same function keeps this test fast.
  monkeypatch.setattr(training_speed, 'find_train_step_factory',
                      lambda: (None, 'ImportError: no trainer'))
  with pytest.raises(ImportError, match='no trainer'):
    training_speed._measure_with_library(_ACRN_TINY, 1, 0, None)
