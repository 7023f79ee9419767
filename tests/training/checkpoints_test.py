"""checkpoints.warm_start: each checkpoint type restores what it should."""

import logging
import os

import numpy as np
import pytest
import tensorflow as tf
import tf_keras
from official.vision.modeling.backbones import resnet as resnet_lib

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
  assert report.sources[0].kind == 'RESNET'
  assert report.sources[0].path == str(tmp_path / 'resnet' / 'ckpt-1')
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
  assert report.sources[0].kind == 'SLIM_S3DG'
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
  assert report.sources[0].kind == 'SHARED_PARTS'
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
  assert report.sources[0].resampled == sorted(v.name for v in mine)
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
  assert report.sources[0].new_scene_layers == new_names
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


def _two_stream_acrn():
  """The tiny ACRN with RGB and flow S3D-G towers fused at Mixed_4f."""
  text = model_fixtures.model_config_text('acrn').replace(
      'min_depth: 8', 'min_depth: 8 streams: RGB_AND_FLOW')
  tf_keras.utils.set_random_seed(0)
  model = model_builder.build(
      config_util.parse_pipeline_config_text(text).model, is_training=True,
      image_size=(model_fixtures.HEIGHT, model_fixtures.WIDTH))
  batch = dict(model_fixtures.two_clip_batch())
  frames = batch[fields.InputDataFields.frames]
  batch[fields.InputDataFields.flow] = tf.zeros(
      frames.shape[:4].as_list() + [2])
  model.predict(model.preprocess(batch), training=False)
  return model


def _public_checkpoints(model, directory):
  """Writes the paper's three public checkpoints at the model's sizes.

  A slim RGB and a slim flow S3D-G checkpoint (InceptionV1/..., up to
  Mixed_5c, with the Kinetics Logits and a Momentum slot as the published
  ones have) and a Model Garden ResNet saved as `backbone`.

  Returns:
    (paths by name, slim values by checkpoint name, the ResNet written).
  """
  towers = model.feature_extractor.towers
  head = model.actor_head.head
  extra = {'InceptionV1/Logits/Conv2d_0c_1x1/weights':
               np.zeros([1, 1, 1, 8, 400], np.float32),
           'InceptionV1/Mixed_3b/Branch_0/Conv2d_0a_1x1/weights/Momentum':
               np.zeros([1], np.float32)}
  values, paths = {}, {}
  for seed, stream in enumerate(('rgb', 'flow')):
    values[stream] = {**slim_fx.random_slim_values(towers[stream],
                                                   seed=10 + seed),
                      **slim_fx.random_slim_values(head, seed=20 + seed),
                      **extra}
    paths[stream] = slim_fx.write_checkpoint(
        str(directory / f'{stream}_model.ckpt'), values[stream])
  config = model.actor_detector.get_config()
  tf_keras.utils.set_random_seed(7)
  resnet = resnet_lib.ResNet(
      model_id=config['model_id'],
      depth_multiplier=config['depth_multiplier'],
      input_specs=tf_keras.layers.InputSpec(
          shape=[None, model_fixtures.HEIGHT, model_fixtures.WIDTH, 3]))
  paths['resnet'] = tf.train.Checkpoint(backbone=resnet).save(
      str(directory / 'resnet' / 'ckpt'))
  return paths, values, resnet


@pytest.fixture(scope='module')
def two_stream(tmp_path_factory):
  """(model, checkpoint paths, slim values, ResNet) for three-source tests."""
  model = _two_stream_acrn()
  paths, values, resnet = _public_checkpoints(
      model, tmp_path_factory.mktemp('public'))
  return model, paths, values, resnet


def _three_sources(paths, rgb_parts):
  config = train_pb2.TrainConfig()
  rgb = config.warm_start_source.add(checkpoint=paths['rgb'],
                                     type=train_pb2.TrainConfig.SLIM_S3DG)
  for part in rgb_parts:
    rgb.part.append(getattr(train_pb2.TrainConfig.WarmStartSource, part))
  config.warm_start_source.add(
      checkpoint=paths['flow'], type=train_pb2.TrainConfig.SLIM_S3DG,
      part=[train_pb2.TrainConfig.WarmStartSource.FLOW_TOWER])
  config.warm_start_source.add(checkpoint=os.path.dirname(paths['resnet']),
                               type=train_pb2.TrainConfig.RESNET)
  return config


@pytest.mark.parametrize('relation_head', [True, False],
                         ids=['paper', 'relation_head_new'])
def test_three_public_sources_restore_every_pretrained_part(
    two_stream, relation_head, caplog):
  model, paths, values, resnet = two_stream
  before = _reset(model)
  rgb_parts = ['RGB_TOWER', 'ACTOR_HEAD'] + (
      ['RELATION_HEAD'] if relation_head else [])
  with caplog.at_level(logging.INFO, logger='absl'):
    report = checkpoints.warm_start(model, _three_sources(paths, rgb_parts))
  flow_tower = model.feature_extractor.towers['flow'].variables
  assert (f'Warm start train_config.warm_start_source[1] from {paths["flow"]}'
          f' (SLIM_S3DG): restored {len(flow_tower)} variables of flow_tower '
          f'({len(flow_tower)}); skipped ') in caplog.text
  assert ('skipped InceptionV1/Logits/Conv2d_0c_1x1/weights: the '
          'checkpoint\'s classifier') in caplog.text

  towers = model.feature_extractor.towers
  heads = [model.actor_head.head] + (
      [model.relation_module.relation_head] if relation_head else [])
  restored = []
  for part, stream in [(towers['rgb'], 'rgb'), (towers['flow'], 'flow')] + [
      (head, 'rgb') for head in heads]:
    for name, variable in part.slim_variables().items():
      np.testing.assert_array_equal(
          variable.numpy(), values[stream]['InceptionV1/' + name], name)
      restored.append(variable)
  backbone = model.actor_detector.backbone.variables
  assert len(backbone) == len(resnet.variables) > 0
  for variable, value in zip(backbone, resnet.variables):
    np.testing.assert_array_equal(variable.numpy(), value.numpy(),
                                  variable.name)
  restored += backbone
  assert len({id(v) for v in restored}) == len(restored)

  # Left at their initial values: the relation module (but its head, when
  # restored as paper 4.1 does), the classifier and the box regressor, and
  # what no public checkpoint holds: the actor RPN head and the temporal
  # flattening and stream fusion of the feature extractor.
  tower_ids = {id(v) for t in towers.values() for v in t.variables}
  head_ids = {id(v) for h in heads for v in h.variables}
  new = ([v for v in model.relation_module.variables
          if id(v) not in head_ids] +
         model.classifier.variables + model.box_regressor.variables)
  not_public = (model.actor_detector.rpn_head.variables +
                [v for v in model.feature_extractor.variables
                 if id(v) not in tower_ids])
  assert new and not_public
  kept = new + not_public
  assert ({id(v) for v in kept} | {id(v) for v in restored} ==
          {id(v) for v in model.variables})
  for variable in kept:
    np.testing.assert_array_equal(variable.numpy(), before[id(variable)],
                                  variable.name)
  assert report.not_restored == sorted(v.name for v in kept)
  assert report.restored == sorted(v.name for v in restored)

  rgb, flow, resnet_report = report.sources
  assert [s.source for s in report.sources] == [
      f'train_config.warm_start_source[{i}]' for i in range(3)]
  assert rgb.parts == [p.lower() for p in rgb_parts]
  assert (flow.kind, flow.parts) == ('SLIM_S3DG', ['flow_tower'])
  assert (resnet_report.kind, resnet_report.parts) == ('RESNET', ['backbone'])
  assert resnet_report.path == paths['resnet']
  # Each source says what it skipped and why: the flow checkpoint's heads,
  # both checkpoints' Logits and optimizer slots.
  assert ('InceptionV1/Logits/Conv2d_0c_1x1/weights: the checkpoint\'s '
          'classifier (Logits), which no model part has') in rgb.skipped
  assert ('InceptionV1/Mixed_3b/Branch_0/Conv2d_0a_1x1/weights/Momentum: an '
          'optimizer or moving-average slot') in flow.skipped
  mixed_5 = [line for line in flow.skipped if '/Mixed_5' in line]
  assert mixed_5 and all(
      line.endswith(': Mixed_5b: no part restored from this source has it')
      or line.endswith(': Mixed_5c: no part restored from this source has '
                       'it') for line in mixed_5)
  assert not [line for line in rgb.skipped if '/Mixed_5' in line]


def test_a_source_that_restores_nothing_names_itself(models, two_stream):
  target, _ = models  # RGB only.
  _, paths, _, _ = two_stream
  config = train_pb2.TrainConfig()
  config.warm_start_source.add(checkpoint=paths['rgb'],
                               type=train_pb2.TrainConfig.SLIM_S3DG)
  config.warm_start_source.add(
      checkpoint=paths['flow'], type=train_pb2.TrainConfig.SLIM_S3DG,
      part=[train_pb2.TrainConfig.WarmStartSource.FLOW_TOWER])
  with pytest.raises(ValueError) as error:
    checkpoints.warm_start(target, config)
  assert str(error.value) == (
      f'train_config.warm_start_source[1] ({paths["flow"]}, SLIM_S3DG) '
      'would restore nothing into FLOW_TOWER: the model has no such part (it '
      'has actor_head, relation_head, rgb_tower)')


def test_two_sources_of_one_part_are_refused_before_restoring(two_stream):
  model, paths, _, _ = two_stream
  before = _reset(model)
  config = train_pb2.TrainConfig()
  # Every S3D-G part from the RGB checkpoint, then the flow tower again.
  config.warm_start_source.add(checkpoint=paths['rgb'],
                               type=train_pb2.TrainConfig.SLIM_S3DG)
  config.warm_start_source.add(
      checkpoint=paths['flow'], type=train_pb2.TrainConfig.SLIM_S3DG,
      part=[train_pb2.TrainConfig.WarmStartSource.FLOW_TOWER])
  with pytest.raises(ValueError, match=r'^train_config\.warm_start_source\[1\]'
                     rf' \({paths["flow"]}, SLIM_S3DG\) and '
                     r'train_config\.warm_start_source\[0\] would both '
                     'restore .*: give each part one source$'):
    checkpoints.warm_start(model, config)
  for variable in model.variables:
    np.testing.assert_array_equal(variable.numpy(), before[id(variable)])


def test_each_source_has_its_own_scope(tmp_path, two_stream):
  model, _, _, resnet = two_stream
  _reset(model)
  flow = model.feature_extractor.towers['flow']
  values = slim_fx.random_slim_values(flow, scope='Flow/InceptionV1', seed=3)
  path = slim_fx.write_checkpoint(str(tmp_path / 'both.ckpt'), values)
  resnet_path = tf.train.Checkpoint(model=tf.train.Checkpoint(
      backbone=resnet)).save(str(tmp_path / 'resnet' / 'ckpt'))
  config = train_pb2.TrainConfig()
  source = config.warm_start_source.add(
      checkpoint=path, type=train_pb2.TrainConfig.SLIM_S3DG,
      scope='Flow/InceptionV1',
      part=[train_pb2.TrainConfig.WarmStartSource.FLOW_TOWER])
  config.warm_start_source.add(checkpoint=resnet_path, scope='model/backbone',
                               type=train_pb2.TrainConfig.RESNET)
  report = checkpoints.warm_start(model, config)
  for name, variable in flow.slim_variables().items():
    np.testing.assert_array_equal(variable.numpy(),
                                  values['Flow/InceptionV1/' + name])
  for variable, value in zip(model.actor_detector.backbone.variables,
                             resnet.variables):
    np.testing.assert_array_equal(variable.numpy(), value.numpy())
  assert len(report.sources) == 2

  # Without the scope: the part's error, naming the source.
  source.scope = ''
  with pytest.raises(ValueError, match=r'^train_config\.warm_start_source'
                     rf'\[0\] \({path}, SLIM_S3DG\), part FLOW_TOWER: Slim '
                     'checkpoint .* does not fit the model; nothing was '
                     'restored'):
    checkpoints.warm_start(model, config)


def test_shared_parts_and_a_resnet_overlap_in_the_backbone(tmp_path, models):
  target, source = models
  full = tf.train.Checkpoint(model=source).save(str(tmp_path / 'run' / 'ckpt'))
  resnet = tf.train.Checkpoint(backbone=source.actor_detector.backbone).save(
      str(tmp_path / 'resnet' / 'ckpt'))
  config = train_pb2.TrainConfig()
  config.warm_start_source.add(checkpoint=full,
                               type=train_pb2.TrainConfig.SHARED_PARTS)
  config.warm_start_source.add(checkpoint=resnet,
                               type=train_pb2.TrainConfig.RESNET)
  with pytest.raises(ValueError, match=r'^train_config\.warm_start_source\[1\]'
                     rf' \({resnet}, RESNET\) and train_config\.'
                     r'warm_start_source\[0\] would both restore '):
    checkpoints.warm_start(target, config)
  # One source of each: restored as the single fine_tune_checkpoint is.
  del config.warm_start_source[1]
  report = checkpoints.warm_start(target, config)
  assert [(s.source, s.kind) for s in report.sources] == [
      ('train_config.warm_start_source[0]', 'SHARED_PARTS')]
  assert report.sources[0].parts == ['feature_extractor', 'actor_detector',
                                     'actor_head']
