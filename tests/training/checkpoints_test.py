"""checkpoints.warm_start: each checkpoint type restores what it should."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from acrn_tf.builders import config_util
from acrn_tf.builders import model_builder
from acrn_tf.core import standard_fields as fields
from acrn_tf.models import video_feature_extractor
from acrn_tf.protos import train_pb2
from acrn_tf.training import checkpoints
from tests.meta_architectures import model_fixtures
from tests.models import slim_checkpoint_fixtures as slim_fx


def _built_model():
  model = model_fixtures.build_model('acrn')
  batch = model_fixtures.two_clip_batch()
  model.predict(model.preprocess(batch), training=False)
  return model


def _randomize(variables, seed):
  rng = np.random.default_rng(seed)
  for variable in variables:
    variable.assign(rng.normal(size=variable.shape).astype(
        variable.dtype.as_numpy_dtype))


def _values(variables):
  return {id(v): v.numpy() for v in variables}


def _train_config(kind, path):
  config = train_pb2.TrainConfig()
  config.fine_tune_checkpoint = path
  config.fine_tune_checkpoint_type = getattr(train_pb2.TrainConfig, kind)
  return config


@pytest.fixture(scope='module')
def models():
  """(target, source): two built tiny ACRN models, source randomised."""
  target, source = _built_model(), _built_model()
  _randomize(source.variables, seed=1)
  return target, source


def _reset(target):
  _randomize(target.variables, seed=2)
  return _values(target.variables)


def test_resnet_restores_the_actor_backbone_only(tmp_path, models):
  target, source = models
  before = _reset(target)
  # As Model Garden's tasks save a backbone.
  tf.train.Checkpoint(backbone=source.actor_detector.backbone).save(
      str(tmp_path / 'resnet' / 'ckpt'))
  report = checkpoints.warm_start(
      target, _train_config('RESNET', str(tmp_path / 'resnet')))
  backbone = target.actor_detector.backbone.variables
  for mine, theirs in zip(backbone,
                          source.actor_detector.backbone.variables):
    np.testing.assert_array_equal(mine.numpy(), theirs.numpy(), mine.name)
  restored = {id(v) for v in backbone}
  for variable in target.variables:
    if id(variable) not in restored:
      np.testing.assert_array_equal(variable.numpy(), before[id(variable)],
                                    variable.name)
  assert report.kind == 'RESNET'
  assert report.path == str(tmp_path / 'resnet' / 'ckpt-1')
  assert report.restored == sorted(v.name for v in backbone)
  assert len(report.not_restored) == len(target.variables) - len(backbone)


def test_full_restores_every_variable(tmp_path, models):
  target, source = models
  _reset(target)
  path = tf.train.Checkpoint(model=source).save(str(tmp_path / 'ckpt'))
  report = checkpoints.warm_start(target, _train_config('FULL', path))
  for mine, theirs in zip(target.variables, source.variables):
    np.testing.assert_array_equal(mine.numpy(), theirs.numpy(), mine.name)
  assert report.not_restored == []


def test_slim_s3dg_restores_the_tower_and_both_heads(tmp_path, models):
  target, _ = models
  before = _reset(target)
  parts = [target.feature_extractor.towers['rgb'], target.actor_head.head,
           target.relation_module.relation_head]
  values = {}
  for seed, part in enumerate(parts):
    # The heads read the same slim names (Mixed_5b/5c): the last one wins.
    values.update(slim_fx.random_slim_values(part, seed=seed))
  path = slim_fx.write_checkpoint(str(tmp_path / 'model.ckpt'), values)
  report = checkpoints.warm_start(target, _train_config('SLIM_S3DG', path))
  for part in parts:
    for name, variable in part.slim_variables().items():
      np.testing.assert_array_equal(variable.numpy(),
                                    values['InceptionV1/' + name], name)
  detector = {id(v) for v in target.actor_detector.variables}
  for variable in target.actor_detector.variables:
    np.testing.assert_array_equal(variable.numpy(), before[id(variable)])
  assert report.kind == 'SLIM_S3DG'
  assert not detector & {id(v) for part in parts for v in part.variables}
  assert set(v.name for v in target.actor_detector.variables) <= set(
      report.not_restored)


def test_a_missing_checkpoint_names_the_field(tmp_path, models):
  target, _ = models
  with pytest.raises(ValueError, match='fine_tune_checkpoint'):
    checkpoints.warm_start(
        target, _train_config('FULL', str(tmp_path / 'nothing')))


def test_a_checkpoint_of_another_type_is_refused(tmp_path, models):
  target, source = models
  path = tf.train.Checkpoint(model=source).save(str(tmp_path / 'ckpt'))
  with pytest.raises(ValueError) as error:
    checkpoints.warm_start(target, _train_config('RESNET', path))
  message = str(error.value)
  assert message.startswith(
      f'train_config.fine_tune_checkpoint {path} does not fit '
      'fine_tune_checkpoint_type RESNET: expected a Model Garden ResNet '
      'saved as `backbone`')
  assert len(message) < 600
  with pytest.raises(ValueError, match='type FULL: expected an acrn_tf '
                     'training checkpoint'):
    other = model_fixtures.build_model('santoro')
    other.predict(other.preprocess(model_fixtures.two_clip_batch()),
                  training=False)
    checkpoints.warm_start(other, _train_config('FULL', path))


def test_shared_parts_come_from_a_model_with_another_relation_module(
    tmp_path, models):
  target, _ = models
  before = _reset(target)
  base = model_fixtures.build_model('none')
  base.predict(base.preprocess(model_fixtures.two_clip_batch()),
               training=False)
  _randomize(base.variables, seed=3)
  path = tf.train.Checkpoint(model=base).save(str(tmp_path / 'ckpt'))
  report = checkpoints.warm_start(target, _train_config('SHARED_PARTS', path))
  shared = ('feature_extractor', 'actor_detector', 'actor_head')
  restored = set()
  for part in shared:
    mine, theirs = (getattr(target, part).variables,
                    getattr(base, part).variables)
    assert len(mine) == len(theirs) > 0
    for variable, value in zip(mine, theirs):
      np.testing.assert_array_equal(variable.numpy(), value.numpy(),
                                    variable.name)
      restored.add(id(variable))
  kept = [v for v in target.variables if id(v) not in restored]
  # The relation module, the classifier and the box regressor.
  assert {id(v) for v in target.relation_module.variables} <= {
      id(v) for v in kept}
  assert {id(v) for v in target.classifier.variables} <= {id(v) for v in kept}
  for variable in kept:
    np.testing.assert_array_equal(variable.numpy(), before[id(variable)],
                                  variable.name)
  assert report.kind == 'SHARED_PARTS'
  assert report.not_restored == sorted(v.name for v in kept)


def test_shared_parts_of_another_shape_are_refused(tmp_path, models):
  target, _ = models
  wider = tf_keras.layers.Dense(3)
  wider.build((None, 5))
  path = tf.train.Checkpoint(model=tf.train.Checkpoint(
      actor_head=wider)).save(str(tmp_path / 'ckpt'))
  with pytest.raises(ValueError, match='type SHARED_PARTS: expected an '
                     'acrn_tf training checkpoint whose feature extractor'):
    checkpoints.warm_start(target, _train_config('SHARED_PARTS', path))


def test_resample_temporal_kernel_keeps_the_sum_of_the_taps():
  kernel = np.array([1.0, 3.0], np.float32).reshape(2, 1, 1, 1, 1)
  same = checkpoints.resample_temporal_kernel(kernel, 2)
  np.testing.assert_array_equal(same, kernel)
  np.testing.assert_allclose(
      checkpoints.resample_temporal_kernel(kernel, 1).ravel(), [4.0])
  np.testing.assert_allclose(
      checkpoints.resample_temporal_kernel(kernel, 4).ravel(),
      [0.5, 0.5, 1.5, 1.5])
  # 2 taps into 3: thirds of time, [0, 2/3), [2/3, 4/3), [4/3, 2).
  np.testing.assert_allclose(
      checkpoints.resample_temporal_kernel(kernel, 3).ravel(),
      [2 / 3, 1 / 3 + 1, 2.0], rtol=1e-6)
  three = np.array([1.0, 2.0, 6.0], np.float32).reshape(3, 1, 1, 1, 1)
  np.testing.assert_allclose(
      checkpoints.resample_temporal_kernel(three, 1).ravel(), [9.0])
  with pytest.raises(ValueError, match='num_frames must be >= 1, got 0'):
    checkpoints.resample_temporal_kernel(kernel, 0)


def _flattening_kernels(model):
  return [layer.kernel for layer in model.feature_extractor.submodules
          if isinstance(layer, video_feature_extractor.TemporalFlattening)]


def test_shared_parts_from_another_clip_length_resample_the_flattening(
    tmp_path, models):
  target, _ = models
  _reset(target)
  # The source model sees clips twice as long: its flattening kernels have
  # twice the taps.
  base = model_fixtures.build_model('none')
  batch = dict(model_fixtures.two_clip_batch())
  frames = fields.InputDataFields.frames
  batch[frames] = tf.concat([batch[frames], batch[frames]], axis=1)
  base.predict(base.preprocess(batch), training=False)
  _randomize(base.variables, seed=4)
  theirs = _flattening_kernels(base)
  mine = _flattening_kernels(target)
  assert theirs and all(t.shape[0] == 2 * m.shape[0]
                        for t, m in zip(theirs, mine))
  path = tf.train.Checkpoint(model=base).save(str(tmp_path / 'ckpt'))
  report = checkpoints.warm_start(target, _train_config('SHARED_PARTS', path))
  assert report.resampled == sorted(v.name for v in mine)
  for variable, value in zip(mine, theirs):
    np.testing.assert_allclose(
        variable.numpy(),
        checkpoints.resample_temporal_kernel(value.numpy(), variable.shape[0]),
        rtol=1e-6)
    # A clip the same in every frame gives the same flattened map.
    np.testing.assert_allclose(variable.numpy().sum(0),
                               value.numpy().sum(0), rtol=1e-4, atol=1e-5)
  resampled = {id(v) for v in mine}
  for part in ('feature_extractor', 'actor_detector', 'actor_head'):
    for variable, value in zip(getattr(target, part).variables,
                               getattr(base, part).variables):
      if id(variable) not in resampled:
        np.testing.assert_array_equal(variable.numpy(), value.numpy(),
                                      variable.name)


def test_shared_parts_are_restored_whole_or_not_at_all(tmp_path, models):
  target, _ = models
  before = _reset(target)
  base = model_fixtures.build_model('none')
  base.predict(base.preprocess(model_fixtures.two_clip_batch()),
               training=False)
  # The feature extractor and actor detector fit; the actor head does not.
  wider = tf_keras.layers.Dense(3)
  wider.build((None, 5))
  path = tf.train.Checkpoint(model=tf.train.Checkpoint(
      feature_extractor=base.feature_extractor,
      actor_detector=base.actor_detector, actor_head=wider)).save(
          str(tmp_path / 'ckpt'))
  with pytest.raises(ValueError, match='type SHARED_PARTS: .*no value for '):
    checkpoints.warm_start(target, _train_config('SHARED_PARTS', path))
  for variable in target.variables:
    np.testing.assert_array_equal(variable.numpy(), before[id(variable)],
                                  variable.name)


def test_shared_parts_leave_a_scene_map_the_checkpoint_has_not_initial(
    tmp_path):
  # ACRN relating to Conv2d_2c_3x3 too, warm-started from a Base-Model,
  # which flattens Mixed_4f only.
  text = model_fixtures.model_config_text('acrn').replace(
      'relation_module { acrn {} }',
      'relation_module { acrn {} scene_features { endpoint: "Conv2d_2c_3x3" '
      'scale: 0.5 } scene_features { endpoint: "Mixed_4f" scale: 0.5 } }')
  tf_keras.utils.set_random_seed(0)
  target = model_builder.build(
      config_util.parse_pipeline_config_text(text).model, is_training=True,
      image_size=(model_fixtures.HEIGHT, model_fixtures.WIDTH))
  batch = model_fixtures.two_clip_batch()
  target.predict(target.preprocess(batch), training=False)
  new_layer = target.feature_extractor.flattening_layer('Conv2d_2c_3x3')
  assert target.feature_extractor.scene_only_layers() == [new_layer]
  initial = [v.numpy() for v in new_layer.variables]
  base = model_fixtures.build_model('none')
  base.predict(base.preprocess(batch), training=False)
  _randomize(base.variables, seed=5)
  path = tf.train.Checkpoint(model=base).save(str(tmp_path / 'ckpt'))
  report = checkpoints.warm_start(target, _train_config('SHARED_PARTS', path))
  new_names = sorted(v.name for v in new_layer.variables)
  assert len(new_names) == 2  # The kernel and the bias.
  assert report.new_scene_layers == new_names
  assert set(new_names) <= set(report.not_restored)
  assert not set(new_names) & set(report.restored)
  for variable, value in zip(new_layer.variables, initial):
    np.testing.assert_array_equal(variable.numpy(), value)
  new_ids = {id(v) for v in new_layer.variables}
  for part in ('actor_detector', 'actor_head'):
    for variable, value in zip(getattr(target, part).variables,
                               getattr(base, part).variables):
      np.testing.assert_array_equal(variable.numpy(), value.numpy())
  mine = [v for v in target.feature_extractor.variables
          if id(v) not in new_ids]
  for variable, value in zip(mine, base.feature_extractor.variables):
    np.testing.assert_array_equal(variable.numpy(), value.numpy(),
                                  variable.name)



def test_relation_head_from_actor_head(tmp_path, models):
  target, _ = models
  _reset(target)
  base = model_fixtures.build_model('none')
  base.predict(base.preprocess(model_fixtures.two_clip_batch()),
               training=False)
  _randomize(base.variables, seed=6)
  path = tf.train.Checkpoint(model=base).save(str(tmp_path / 'ckpt'))
  config = _train_config('SHARED_PARTS', path)
  config.relation_head_from_actor_head = True
  report = checkpoints.warm_start(target, config)
  relation_head = target.relation_module.relation_head
  assert len(relation_head.variables) == len(base.actor_head.head.variables)
  for variable, value in zip(relation_head.variables,
                             base.actor_head.head.variables):
    np.testing.assert_array_equal(variable.numpy(), value.numpy(),
                                  variable.name)
    assert variable.name in report.restored
  # g_theta is still new.
  g_theta = target.relation_module.g_theta.variables
  assert g_theta and all(v.name in report.not_restored for v in g_theta)

  # A model without a relation head.
  with pytest.raises(ValueError, match='relation_head_from_actor_head: the '
                     'model has no relation head'):
    checkpoints.warm_start(base, config)


def test_relation_head_of_another_shape_is_refused(tmp_path, models):
  _, source = models
  text = model_fixtures.model_config_text('acrn').replace(
      'acrn {}', 'acrn { relation_channels: 16 }')
  narrow = model_builder.build(
      config_util.parse_pipeline_config_text(text).model, is_training=True,
      image_size=(model_fixtures.HEIGHT, model_fixtures.WIDTH))
  narrow.predict(narrow.preprocess(model_fixtures.two_clip_batch()),
                 training=False)
  path = tf.train.Checkpoint(model=source).save(str(tmp_path / 'ckpt'))
  config = _train_config('SHARED_PARTS', path)
  config.relation_head_from_actor_head = True
  with pytest.raises(ValueError, match='relation_head_from_actor_head: .* is '
                     r'\[.*16, .*\], the actor head.s .*relation_channels '
                     'must be the channels of F'):
    checkpoints.warm_start(narrow, config)


def _interval_manager(directory, step):
  return checkpoints.IntervalCheckpointManager(
      tf.train.Checkpoint(step=step), directory, max_to_keep=None,
      step_counter=step, checkpoint_interval=200)


def _saved_steps(manager, step, until):
  """Saves as orbit's Controller does after each 10-step loop."""
  while int(step.numpy()) < until:
    step.assign_add(10)
    manager.save(checkpoint_number=int(step.numpy()))
  manager.save(checkpoint_number=int(step.numpy()), check_interval=False)
  return [int(p.rsplit('-', 1)[1]) for p in manager.checkpoints]


def test_interval_checkpoints_fall_on_multiples(tmp_path):
  # tf.train.CheckpointManager alone saved at 10, 210, 410 (its interval
  # counts from the first save).
  step = tf.Variable(0, dtype=tf.int64)
  manager = _interval_manager(str(tmp_path), step)
  assert _saved_steps(manager, step, 450) == [200, 400, 450]
  # A job resumed from ckpt-450 goes on at 600, not at 650.
  manager = _interval_manager(str(tmp_path), step)
  assert _saved_steps(manager, step, 620)[-2:] == [600, 620]
