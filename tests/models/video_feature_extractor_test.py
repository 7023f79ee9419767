"""Two-stream fusion, temporal flattening, preprocessing, frozen batch norm."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from acrn_tf.core import standard_fields as fields
from acrn_tf.models import s3dg
from acrn_tf.models import video_feature_extractor as vfe
from tests.models import slim_checkpoint_fixtures as fx

TINY = dict(depth_multiplier=0.25, min_depth=8)
FEATURE = fields.PredictionFields.feature_map
SCENE = fields.PredictionFields.scene_feature_maps


def _videos(seed=0, frames=4, size=32):
  rgb = tf.random.stateless_uniform((1, frames, size, size, 3), (seed, 1),
                                    -1.0, 1.0)
  flow = tf.random.stateless_uniform((1, frames, size, size, 2), (seed, 2),
                                     -1.0, 1.0)
  return rgb, flow


def _flatten_by_hand(layer, x):
  """sum_t x[:, t] . kernel[t] + bias, the t x 1 x 1 conv written out."""
  kernel = layer.kernel.numpy()[:, 0, 0]  # [t, c, c']
  return np.einsum('bthwc,tcd->bhwd', x.numpy(), kernel) + layer.bias.numpy()


def _fuse_by_hand(op, layer, a, b):
  if op == 'sum':
    return a + b
  if op == 'average':
    return (a + b) / 2
  kernel, bias = layer.kernel.numpy(), layer.bias.numpy()
  return np.concatenate([a, b], axis=-1) @ kernel + bias


@pytest.mark.parametrize('fusion_op', vfe.FUSION_OPS)
def test_two_stream_fusion_shapes_and_values(fusion_op):
  extractor = vfe.VideoFeatureExtractor(
      streams='rgb_and_flow', fusion_op=fusion_op,
      scene_endpoints=('Conv2d_2c_3x3', 'Mixed_4f'), **TINY)
  rgb, flow = _videos()
  out = extractor(rgb, flow, training=False)
  assert out[FEATURE].shape == (1, 2, 2, 208)
  assert sorted(out[SCENE]) == ['Conv2d_2c_3x3', 'Mixed_4f']
  assert out[SCENE]['Conv2d_2c_3x3'].shape == (1, 8, 8, 48)
  assert out[SCENE]['Mixed_4f'] is out[FEATURE]
  towers = extractor.towers
  assert towers['flow'].endpoint_names[-1] == 'Mixed_4f'
  if fusion_op == 'concat_conv':
    # Starts as the average; randomise it so the check below means something.
    fusion = extractor.fusion_layer('Mixed_4f')
    np.testing.assert_array_equal(
        fusion.kernel.numpy(),
        np.concatenate([np.eye(208), np.eye(208)], 0) / 2)
    fusion.kernel.assign(tf.random.stateless_normal((416, 208), (1, 1)))
    out = extractor(rgb, flow, training=False)
  rgb_points = towers['rgb'](rgb, training=False)
  flow_points = towers['flow'](flow, training=False)
  fused = _fuse_by_hand(fusion_op, extractor.fusion_layer('Mixed_4f'),
                        rgb_points['Mixed_4f'].numpy(),
                        flow_points['Mixed_4f'].numpy())
  np.testing.assert_allclose(
      out[FEATURE].numpy(),
      _flatten_by_hand(extractor.flattening_layer('Mixed_4f'),
                       tf.constant(fused)), atol=1e-4)
  # Below the fusion point: flatten each stream, then fuse the 2D maps.
  scene = _fuse_by_hand(
      fusion_op, extractor.fusion_layer('Conv2d_2c_3x3'),
      _flatten_by_hand(extractor.flattening_layer('Conv2d_2c_3x3', 'rgb'),
                       rgb_points['Conv2d_2c_3x3']),
      _flatten_by_hand(extractor.flattening_layer('Conv2d_2c_3x3', 'flow'),
                       flow_points['Conv2d_2c_3x3']))
  np.testing.assert_allclose(out[SCENE]['Conv2d_2c_3x3'].numpy(), scene,
                             atol=1e-4)


def test_scene_only_layers_are_those_of_endpoints_other_than_f():
  extractor = vfe.VideoFeatureExtractor(
      streams='rgb_and_flow', fusion_endpoint='Mixed_4f',
      scene_endpoints=('Conv2d_2c_3x3', 'Mixed_3c', 'Mixed_4f'), **TINY)
  layers = extractor.scene_only_layers()
  expected = [extractor.flattening_layer(e, stream)
              for stream in ('rgb', 'flow')
              for e in ('Conv2d_2c_3x3', 'Mixed_3c')]
  expected += [extractor.fusion_layer(e) for e in ('Conv2d_2c_3x3',
                                                   'Mixed_3c')]
  assert sorted(layer.name for layer in layers) == sorted(
      layer.name for layer in expected)
  assert extractor.flattening_layer('Mixed_4f') not in layers
  assert vfe.VideoFeatureExtractor(
      streams='rgb', scene_endpoints=('Mixed_4f',),
      **TINY).scene_only_layers() == []


def test_endpoints_after_fusion_come_from_the_fused_rgb_trunk():
  extractor = vfe.VideoFeatureExtractor(
      streams='rgb_and_flow', fusion_endpoint='Mixed_4b', fusion_op='sum',
      feature_endpoint='Mixed_4f', **TINY)
  rgb, flow = _videos(seed=3)
  out = extractor(rgb, flow)
  towers = extractor.towers
  assert towers['flow'].endpoint_names[-1] == 'Mixed_4b'
  fused = (towers['rgb'](rgb, end_endpoint='Mixed_4b')['Mixed_4b'] +
           towers['flow'](flow)['Mixed_4b'])
  trunk = towers['rgb'](fused, start_endpoint='Mixed_4c')['Mixed_4f']
  np.testing.assert_allclose(
      out[FEATURE].numpy(),
      _flatten_by_hand(extractor.flattening_layer('Mixed_4f'), trunk),
      atol=1e-4)
  assert out[SCENE] == {}


@pytest.mark.parametrize('streams', ['rgb', 'rgb_and_flow'])
def test_every_variable_is_tracked_and_checkpointed(streams, tmp_path):
  created = []

  def record(next_creator, **kwargs):
    created.append(next_creator(**kwargs))
    return created[-1]

  with tf.variable_creator_scope(record):
    extractor = vfe.VideoFeatureExtractor(
        streams=streams, fusion_endpoint='Mixed_4b',
        feature_endpoint='Mixed_4f', scene_endpoints=('Mixed_3c',), **TINY)
    rgb, flow = _videos(seed=5)
    extractor(rgb, flow=flow if streams != 'rgb' else None)
  tracked = {id(v) for v in extractor.variables}
  kernels = [v for v in created if 'flatten' in v.name]
  assert kernels, 'no flattening variables were created'
  assert [v.name for v in kernels if id(v) not in tracked] == []
  path = tf.train.Checkpoint(model=extractor).write(str(tmp_path / 'ckpt'))
  names = [name for name, _ in tf.train.list_variables(path)]
  assert any('Mixed_4f/flatten' in n or '_flattenings' in n for n in names)


@pytest.mark.parametrize('streams, channels', [('rgb', 3), ('flow', 2)])
def test_single_stream(streams, channels):
  extractor = vfe.VideoFeatureExtractor(
      streams=streams, feature_endpoint='Mixed_4f',
      scene_endpoints=('Mixed_3c',), **TINY)
  rgb, flow = _videos(seed=4)
  out = (extractor(rgb) if streams == 'rgb' else extractor(None, flow=flow))
  assert list(extractor.towers) == [streams]
  assert extractor.towers[streams].input_channels == channels
  assert out[FEATURE].shape == (1, 2, 2, 208)
  assert out[SCENE]['Mixed_3c'].shape == (1, 4, 4, 120)
  assert extractor.output_channels('Mixed_3c') == 120


def test_temporal_flattening_is_a_t_by_1_by_1_conv():
  layer = vfe.TemporalFlattening(name='flatten')
  x = tf.random.stateless_normal((2, 3, 4, 5, 6), (7, 8))
  out = layer(x)
  assert out.shape == (2, 4, 5, 6)
  assert layer.kernel.shape == (3, 1, 1, 6, 6)
  # Starts as the temporal mean.
  np.testing.assert_allclose(out.numpy(), x.numpy().mean(axis=1), atol=1e-6)
  layer.kernel.assign(tf.random.stateless_normal((3, 1, 1, 6, 6), (9, 9)))
  layer.bias.assign(tf.range(6, dtype=tf.float32))
  np.testing.assert_allclose(layer(x).numpy(), _flatten_by_hand(layer, x),
                             rtol=1e-5, atol=1e-5)
  with pytest.raises(ValueError, match='built for 3 frames'):
    layer(tf.zeros((2, 4, 4, 5, 6)))


def test_temporal_flattening_needs_a_known_time_length():
  with pytest.raises(ValueError, match='t and c known'):
    vfe.TemporalFlattening().build(tf.TensorShape([None, None, 4, 4, 8]))


def test_preprocessing():
  extractor = vfe.VideoFeatureExtractor(streams='rgb', **TINY)
  frames = tf.constant([0, 51, 255], tf.uint8)
  np.testing.assert_allclose(extractor.preprocess_rgb(frames).numpy(),
                             [-1.0, -0.6, 1.0], atol=1e-6)
  flow = tf.constant([-40.0, -10.0, 0.0, 5.0, 20.0, 33.0])
  np.testing.assert_allclose(extractor.preprocess_flow(flow).numpy(),
                             [-1.0, -0.5, 0.0, 0.25, 1.0, 1.0])


def _moving_statistics(model):
  return {v.name: v.numpy() for v in model.variables if 'moving_' in v.name}


@pytest.mark.parametrize('frozen', [True, False])
def test_train_step_and_batch_norm_statistics(frozen):
  extractor = vfe.VideoFeatureExtractor(
      streams='rgb', feature_endpoint='Mixed_3b',
      use_frozen_batch_norm=frozen, **TINY)
  rgb, _ = _videos(seed=5, frames=2, size=16)
  extractor(rgb)
  before = _moving_statistics(extractor)
  beta_before = {v.name: v.numpy() for v in extractor.trainable_variables
                 if 'beta' in v.name}
  assert len(before) == 2 * len(beta_before) > 0
  optimizer = tf_keras.optimizers.SGD(learning_rate=0.1)
  with tf.GradientTape() as tape:
    loss = tf.reduce_mean(tf.square(extractor(rgb, training=True)[FEATURE]))
  grads = tape.gradient(loss, extractor.trainable_variables)
  optimizer.apply_gradients(zip(grads, extractor.trainable_variables))
  after = _moving_statistics(extractor)
  changed = [n for n in before if not np.array_equal(before[n], after[n])]
  if frozen:
    assert changed == []
  else:
    assert sorted(changed) == sorted(before)
  # beta is trained either way.
  assert any(not np.array_equal(beta_before[v.name], v.numpy())
             for v in extractor.trainable_variables if 'beta' in v.name)


def test_restore_towers_from_one_rgb_checkpoint(tmp_path):
  extractor = vfe.VideoFeatureExtractor(streams='rgb_and_flow', **TINY)
  rgb, flow = _videos(seed=6)
  out = extractor(rgb, flow)
  head = s3dg.S3DGHead(**TINY)
  head(tf.zeros((1, 1, 2, 2, 208)))
  values = fx.random_slim_values(extractor.towers['rgb'])
  values.update(fx.random_slim_values(head))
  path = fx.write_checkpoint(str(tmp_path / 'rgb.ckpt'), values)
  reports = extractor.restore_from_slim(rgb_checkpoint=path,
                                        flow_checkpoint=path)
  assert sorted(reports) == ['flow', 'rgb']
  assert len(reports['flow'].adapted) == 1
  skipped = reports['rgb'].skipped_checkpoint
  assert skipped and all(
      n.startswith(('InceptionV1/Mixed_5b/', 'InceptionV1/Mixed_5c/'))
      for n in skipped)
  np.testing.assert_array_equal(
      extractor.towers['flow'].slim_variables()['Mixed_4f/Branch_0/'
                                                'Conv2d_0a_1x1/weights'],
      values['InceptionV1/Mixed_4f/Branch_0/Conv2d_0a_1x1/weights'])
  assert not np.allclose(extractor(rgb, flow)[FEATURE], out[FEATURE])


@pytest.mark.parametrize('kwargs, message', [
    (dict(streams='depth'), 'streams must be one of'),
    (dict(fusion_op='max'), 'fusion_op must be one of'),
    (dict(fusion_endpoint='Mixed_9'), 'fusion_endpoint: unknown'),
    (dict(scene_endpoints=('Conv2d',)), 'scene_endpoints: unknown'),
    (dict(final_endpoint='Mixed_5c'), 'final_endpoint is set by'),
    (dict(flow_scale=0.0), 'flow_scale must be > 0'),
])
def test_bad_arguments_are_refused(kwargs, message):
  with pytest.raises(ValueError, match=message):
    vfe.VideoFeatureExtractor(**kwargs)


def test_missing_or_mismatched_streams_are_refused():
  extractor = vfe.VideoFeatureExtractor(streams='rgb_and_flow',
                                        feature_endpoint='Conv2d_1a_7x7',
                                        **TINY)
  rgb, flow = _videos()
  with pytest.raises(ValueError, match='has a flow stream: pass `flow`'):
    extractor(rgb)
  with pytest.raises(ValueError, match='must share batch, time, height'):
    extractor(rgb, flow[:, :2])


def test_config_round_trip():
  extractor = vfe.VideoFeatureExtractor(
      streams='rgb_and_flow', fusion_op='average',
      scene_endpoints=['Mixed_3c'], use_frozen_batch_norm=True,
      **s3dg.S3DG_PRESETS['top_heavy'], **TINY)
  clone = vfe.VideoFeatureExtractor.from_config(extractor.get_config())
  assert clone.get_config() == extractor.get_config()
  assert clone.towers['rgb'].get_config()['gating_startat'] == 'Mixed_4b'


def test_restore_towers_from_one_checkpoint_with_two_scopes(tmp_path):
  extractor = vfe.VideoFeatureExtractor(streams='rgb_and_flow', **TINY)
  extractor(*_videos(seed=7))
  towers = extractor.towers
  values = fx.random_slim_values(towers['rgb'], scope='RGB/InceptionV1',
                                 seed=1)
  values.update(fx.random_slim_values(towers['flow'],
                                      scope='Flow/InceptionV1', seed=2))
  path = fx.write_checkpoint(str(tmp_path / 'both.ckpt'), values)
  reports = extractor.restore_from_slim(
      rgb_checkpoint=path, flow_checkpoint=path, scope='RGB/InceptionV1',
      flow_scope='Flow/InceptionV1')
  assert not reports['flow'].adapted
  for stream, scope in (('rgb', 'RGB/InceptionV1'),
                        ('flow', 'Flow/InceptionV1')):
    for name, variable in towers[stream].slim_variables().items():
      np.testing.assert_array_equal(variable.numpy(),
                                    values[f'{scope}/{name}'])
