"""config_warnings: batch-norm statistics that cannot settle in a short
training from scratch, and a partial evaluation batch under XLA."""

import os

import pytest

from acrn_tf.builders import config_util
from acrn_tf.builders import config_warnings
from acrn_tf.protos import train_pb2

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
CONFIGS = os.path.join(REPO_ROOT, 'configs')


def _tiny(decay, steps):
  config = config_util.load_pipeline_config(
      os.path.join(CONFIGS, 'synthetic', 'acrn_tiny.config'))
  config.model.video_faster_rcnn.feature_extractor.batch_norm_decay = decay
  config.train_config.num_steps = steps
  return config


def test_warns_when_the_moving_statistics_keep_their_initial_values():
  # 0.999 ** 400 = 0.67 of the initial variance 1 is left; the largest decay
  # that leaves at most 1e-6 over 400 steps is 1e-6 ** (1 / 400) = 0.96605,
  # suggested rounded down.
  warning = config_warnings.stale_batch_norm_warning(_tiny(0.999, 400))
  assert 'feature_extractor.batch_norm_decay 0.999' in warning
  assert 'train_config.num_steps 400' in warning
  assert 'still hold 0.67 of their initial values' in warning
  assert 'batch_norm_decay <= 0.9660' in warning


@pytest.mark.parametrize('decay, steps', [(0.9, 300), (0.999, 20000)])
def test_no_warning_when_the_statistics_settle(decay, steps):
  # 0.9 ** 300 = 1.9e-14; 0.999 ** 20000 = 2.0e-9, both below 1e-6.
  assert config_warnings.stale_batch_norm_warning(_tiny(decay, steps)) == ''


def test_no_warning_when_s3dg_statistics_are_loaded_or_frozen():
  loaded = _tiny(0.999, 400)
  loaded.train_config.fine_tune_checkpoint = 'ckpt/model.ckpt'
  loaded.train_config.fine_tune_checkpoint_type = (
      train_pb2.TrainConfig.SLIM_S3DG)
  assert config_warnings.stale_batch_norm_warning(loaded) == ''
  frozen = _tiny(0.999, 400)
  frozen.model.video_faster_rcnn.feature_extractor.use_frozen_batch_norm = (
      True)
  assert config_warnings.stale_batch_norm_warning(frozen) == ''


def test_resnet_checkpoint_still_warns():
  # A ResNet checkpoint warm-starts the actor detector only: S3D-G still
  # starts from scratch.
  config = _tiny(0.999, 400)
  config.train_config.fine_tune_checkpoint = 'ckpt/resnet'
  config.train_config.fine_tune_checkpoint_type = train_pb2.TrainConfig.RESNET
  assert 'batch_norm_decay <= 0.9660' in (
      config_warnings.stale_batch_norm_warning(config))


@pytest.mark.parametrize('name', ['acrn_tiny.config', 'base_tiny.config'])
def test_bundled_synthetic_configs_let_the_statistics_settle(name):
  config = config_util.load_pipeline_config(
      os.path.join(CONFIGS, 'synthetic', name))
  assert config_warnings.stale_batch_norm_warning(config) == ''


def test_warns_when_xla_meets_a_partial_evaluation_batch():
  config = _tiny(0.9, 300)
  config.eval_config.batch_size = 4
  config.eval_config.num_examples = 10
  assert config_warnings.partial_eval_batch_warning(config) == ''  # no XLA
  config.model.video_faster_rcnn.use_xla = True
  warning = config_warnings.partial_eval_batch_warning(config)
  assert warning.startswith('model.video_faster_rcnn.use_xla with '
                            'eval_config.num_examples 10 not a multiple of '
                            'eval_config.batch_size 4: the last evaluation '
                            'batch holds 2 examples')
  assert warning.endswith('use num_examples 8 or 12')
  for num_examples in (0, 12):  # every record, or full batches
    config.eval_config.num_examples = num_examples
    assert config_warnings.partial_eval_batch_warning(config) == ''
