"""config_validation beyond what config_util_test covers: warm-start
sources, the trained clip, refusals that combine fields, and the Adam
optimizer's settings."""

import os

import pytest

from acrn_tf.builders import config_util
from acrn_tf.builders import config_validation
from acrn_tf.builders import config_warnings
from acrn_tf.protos import optimizer_pb2
from acrn_tf.protos import train_pb2

TINY = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'configs', 'synthetic', 'acrn_tiny.config')


# Warm-start sources: each bad field is named with the file.

_SOURCE = train_pb2.TrainConfig.WarmStartSource


def _with_sources(*sources):
  config = config_util.load_pipeline_config(TINY)
  for fields in sources:
    config.train_config.warm_start_source.add(**fields)
  return config


_SLIM = dict(checkpoint='/ckpt/rgb', type=train_pb2.TrainConfig.SLIM_S3DG)
_RESNET = dict(checkpoint='/ckpt/resnet', type=train_pb2.TrainConfig.RESNET)


@pytest.mark.parametrize('sources,expected', [
    ([dict(_SLIM, checkpoint='')],
     r'warm_start_source\[0\]\.checkpoint: is required'),
    ([_RESNET, dict(checkpoint='/ckpt/x')],
     r'warm_start_source\[1\]\.type: is required \(SLIM_S3DG, RESNET, FULL '
     r'or SHARED_PARTS\)'),
    ([_RESNET, dict(_SLIM, type=train_pb2.TrainConfig.FULL)],
     r'warm_start_source\[1\]\.type: FULL restores the whole model: it must '
     'be the only warm_start_source'),
    ([dict(_RESNET, part=[_SOURCE.RGB_TOWER])],
     r'warm_start_source\[0\]\.part: only SLIM_S3DG sources take parts; '
     'RESNET restores what its type says'),
    ([dict(_SLIM, part=[_SOURCE.RGB_TOWER, _SOURCE.FLOW_TOWER])],
     r'warm_start_source\[0\]\.part\[1\]: FLOW_TOWER: the model has no such '
     r'part \(streams RGB; a relation head only with the acrn relation '
     r'module\)'),
    ([dict(_SLIM, part=[_SOURCE.DEFAULT_PARTS])],
     r'warm_start_source\[0\]\.part\[0\]: DEFAULT_PARTS is not a part'),
    ([dict(_SLIM, part=[_SOURCE.RGB_TOWER]),
      dict(_SLIM, part=[_SOURCE.ACTOR_HEAD, _SOURCE.RGB_TOWER])],
     r'warm_start_source\[1\]\.part\[1\]: RGB_TOWER is already restored by '
     r'train_config\.warm_start_source\[0\]'),
    ([dict(checkpoint='/ckpt/run', type=train_pb2.TrainConfig.SHARED_PARTS,
           scope='model')],
     r'warm_start_source\[0\]\.scope: must be empty for SHARED_PARTS'),
    ([dict(_RESNET, scope='model//backbone')],
     r'warm_start_source\[0\]\.scope: must be names joined by single "/"'),
])
def test_bad_warm_start_sources_name_the_file_and_field(sources, expected):
  with pytest.raises(config_validation.ConfigError,
                     match=rf'^my\.config: train_config\.{expected}'):
    config_validation.validate_pipeline(_with_sources(*sources), 'my.config')


def test_one_warm_start_form_at_a_time():
  config = _with_sources(_RESNET)
  config.train_config.fine_tune_checkpoint = '/ckpt/full'
  config.train_config.fine_tune_checkpoint_type = train_pb2.TrainConfig.FULL
  with pytest.raises(config_validation.ConfigError,
                     match=r'^my\.config: train_config\.warm_start_source: '
                     'set either fine_tune_checkpoint'):
    config_validation.validate_pipeline(config, 'my.config')


def test_relation_head_from_actor_head_with_a_shared_parts_source():
  config = _with_sources(dict(checkpoint='/ckpt/run',
                              type=train_pb2.TrainConfig.SHARED_PARTS))
  config.train_config.relation_head_from_actor_head = True
  config_validation.validate_pipeline(config, 'my.config')
  config = _with_sources(_SLIM)
  config.train_config.relation_head_from_actor_head = True
  with pytest.raises(config_validation.ConfigError,
                     match='relation_head_from_actor_head: needs '):
    config_validation.validate_pipeline(config, 'my.config')


def test_the_paper_sources_validate_and_load_s3dg():
  config = _with_sources(
      dict(_SLIM, part=[_SOURCE.RGB_TOWER, _SOURCE.ACTOR_HEAD,
                        _SOURCE.RELATION_HEAD]), _RESNET)
  config_validation.validate_pipeline(config, 'my.config')
  config.train_config.num_steps = 400
  config.model.video_faster_rcnn.feature_extractor.batch_norm_decay = 0.999
  assert config_warnings.stale_batch_norm_warning(config) == ''
  resnet_only = _with_sources(_RESNET)
  resnet_only.train_config.num_steps = 400
  resnet_only.model.video_faster_rcnn.feature_extractor.batch_norm_decay = (
      0.999)
  assert 'batch_norm_decay <= 0.9660' in (
      config_warnings.stale_batch_norm_warning(resnet_only))


def test_a_clip_other_than_the_trained_one_names_both_files():
  trained = config_util.load_pipeline_config(TINY)
  given = config_util.load_pipeline_config(
      TINY, overrides=['train_input_reader.frame_stride=5',
                       'eval_input_reader[0].frame_stride=5'])
  config_validation.check_same_clip(trained, 'a.config', trained, 'b.config')
  with pytest.raises(
      config_validation.ConfigError,
      match=r'^given\.config: train_input_reader\.frame_stride is 5 but the '
      r'model was trained with train_input_reader\.frame_stride 1 '
      r'\(model/pipeline\.config\)'):
    config_validation.check_same_clip(given, 'given.config', trained,
                                      'model/pipeline.config')


def test_op_determinism_and_xla_are_refused_together():
  with pytest.raises(config_util.ConfigError,
                     match=r'acrn_tiny.config: train_config.deterministic: '
                     r'cannot be true with model.video_faster_rcnn.use_xla'):
    config_util.load_pipeline_config(
        TINY, overrides=['train_config.deterministic=true',
                         'model.video_faster_rcnn.use_xla=true'])


# Frozen parts.

_FROZEN = train_pb2.TrainConfig.FrozenPart


@pytest.mark.parametrize('parts,expected', [
    ([_FROZEN.ACTOR_HEAD, _FROZEN.FROZEN_PART_UNSPECIFIED],
     r'frozen_part\[1\]: FROZEN_PART_UNSPECIFIED is not a part: expected '
     'FEATURE_EXTRACTOR, ACTOR_DETECTOR or ACTOR_HEAD'),
    ([_FROZEN.ACTOR_HEAD, _FROZEN.FEATURE_EXTRACTOR, _FROZEN.ACTOR_HEAD],
     r'frozen_part\[2\]: ACTOR_HEAD is named twice'),
])
def test_bad_frozen_parts_name_the_field(parts, expected):
  config = _with_sources()
  config.train_config.frozen_part.extend(parts)
  with pytest.raises(config_validation.ConfigError,
                     match=rf'^my\.config: train_config\.{expected}'):
    config_validation.validate_pipeline(config, 'my.config')


# Optimizers: momentum or Adam, each field named by its path.


def _with_adam(**fields):
  """The tiny config with Adam (and `fields`) on its own schedule."""
  config = config_util.load_pipeline_config(TINY)
  optimizer = config.train_config.optimizer
  schedule = optimizer_pb2.LearningRate()
  schedule.CopyFrom(optimizer.momentum_optimizer.learning_rate)
  optimizer.adam_optimizer.learning_rate.CopyFrom(schedule)
  for name, value in fields.items():
    setattr(optimizer.adam_optimizer, name, value)
  return config


def test_adam_on_the_cosine_schedule_validates():
  config = _with_adam(beta1=0.0, beta2=0.99, epsilon=1e-6)
  assert config.train_config.optimizer.WhichOneof('optimizer') == (
      'adam_optimizer')
  config_validation.validate_pipeline(config, 'my.config')


@pytest.mark.parametrize('field, value, expected', [
    ('beta1', 1.0, r'beta1: must be in \[0, 1\), got 1\.0'),
    ('beta1', -0.5, r'beta1: must be in \[0, 1\), got -0\.5'),
    ('beta2', 1.0, r'beta2: must be in \[0, 1\), got 1\.0'),
    ('epsilon', 0.0, r'epsilon: must be > 0, got 0\.0'),
    ('epsilon', -1.0, r'epsilon: must be > 0, got -1\.0'),
])
def test_bad_adam_settings_name_the_field(field, value, expected):
  with pytest.raises(config_validation.ConfigError,
                     match=r'^my\.config: train_config\.optimizer\.'
                     rf'adam_optimizer\.{expected}$'):
    config_validation.validate_pipeline(_with_adam(**{field: value}),
                                        'my.config')


def test_adam_learning_rate_is_checked_as_momentums():
  config = _with_adam()
  config.train_config.optimizer.adam_optimizer.learning_rate \
      .cosine_decay_learning_rate.learning_rate_base = 0.0
  with pytest.raises(config_validation.ConfigError,
                     match=r'^my\.config: train_config\.optimizer\.'
                     r'adam_optimizer\.learning_rate\.'
                     r'cosine_decay_learning_rate\.learning_rate_base: must '
                     r'be > 0, got 0\.0$'):
    config_validation.validate_pipeline(config, 'my.config')
  config.train_config.optimizer.adam_optimizer.ClearField('learning_rate')
  with pytest.raises(config_validation.ConfigError,
                     match=r'^my\.config: train_config\.optimizer\.'
                     r'adam_optimizer\.learning_rate: is required$'):
    config_validation.validate_pipeline(config, 'my.config')


def test_an_empty_optimizer_names_both_choices():
  config = config_util.load_pipeline_config(TINY)
  config.train_config.optimizer.ClearField('momentum_optimizer')
  config.train_config.optimizer.SetInParent()
  with pytest.raises(config_validation.ConfigError,
                     match=r'^my\.config: train_config\.optimizer: must set '
                     r'momentum_optimizer or adam_optimizer$'):
    config_validation.validate_pipeline(config, 'my.config')
