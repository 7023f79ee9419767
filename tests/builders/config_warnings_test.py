"""config_warnings: batch-norm statistics that cannot settle in a short
training from scratch, a partial evaluation batch under XLA, and frozen
parts no warm start restores."""

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


_FROZEN = train_pb2.TrainConfig.FrozenPart
_SOURCE = train_pb2.TrainConfig.WarmStartSource
_SLIM = dict(checkpoint='/ckpt/rgb', type=train_pb2.TrainConfig.SLIM_S3DG)
_RESNET = dict(checkpoint='/ckpt/resnet', type=train_pb2.TrainConfig.RESNET)
_SHARED = dict(checkpoint='/ckpt/run', type=train_pb2.TrainConfig.SHARED_PARTS)


def _frozen(parts, *sources):
  config = _tiny(0.9, 300)
  config.train_config.frozen_part.extend(parts)
  for fields in sources:
    config.train_config.warm_start_source.add(**fields)
  return config_warnings.frozen_from_scratch_warning(config)

_ALL = [_FROZEN.FEATURE_EXTRACTOR, _FROZEN.ACTOR_DETECTOR, _FROZEN.ACTOR_HEAD]


def test_frozen_parts_that_no_warm_start_restores_are_warned_about():
  assert _frozen([]) == ''
  assert _frozen(_ALL, _SHARED) == ''
  assert _frozen([_FROZEN.ACTOR_HEAD]) == (
      'train_config.frozen_part ACTOR_HEAD: no fine_tune_checkpoint or '
      'warm_start_source restores it, so it keeps its random initial values '
      'for the whole training; warm-start from a FULL or SHARED_PARTS '
      'checkpoint (or SLIM_S3DG for the S3D-G towers and the actor head), '
      'or do not freeze')
  # A slim S3D-G checkpoint restores the towers and the actor head; a
  # ResNet the backbone but not the RPN; a slim source of the towers only
  # leaves the actor head.
  assert _frozen(_ALL, _SLIM, _RESNET).startswith(
      'train_config.frozen_part ACTOR_DETECTOR: no fine_tune_checkpoint')
  warning = _frozen(_ALL, dict(_SLIM, part=[_SOURCE.RGB_TOWER]))
  assert warning.startswith('train_config.frozen_part ACTOR_DETECTOR, '
                            'ACTOR_HEAD: no fine_tune_checkpoint or '
                            'warm_start_source restores them, so they keep '
                            'their random initial values')


def test_a_frozen_feature_extractor_is_not_warned_about_stale_statistics():
  # From scratch, 400 steps at decay 0.999 leave stale statistics (warned
  # about in config_warnings_test), unless the extractor does not train.
  config = _tiny(0.999, 400)
  assert config_warnings.stale_batch_norm_warning(config)
  config.train_config.frozen_part.append(_FROZEN.FEATURE_EXTRACTOR)
  assert config_warnings.stale_batch_norm_warning(config) == ''
