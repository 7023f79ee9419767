"""Restoring S3D-G from checkpoints written with TF-slim's variable names."""

import os

import numpy as np
import pytest
import tensorflow as tf

from acrn_tf.models import s3dg
from acrn_tf.models import slim_s3dg_checkpoint as loader
from tests.models import slim_checkpoint_fixtures as fx

TINY = dict(depth_multiplier=0.25, min_depth=8)
VIDEO_SHAPE = (1, 4, 32, 32, 3)


def _backbone(input_channels=3):
  model = s3dg.S3DG(final_endpoint='Mixed_4f', input_channels=input_channels,
                    **TINY)
  end_points = model(tf.zeros(VIDEO_SHAPE[:-1] + (input_channels,)))
  return model, end_points['Mixed_4f']


def _head(mixed_4f, name):
  head = s3dg.S3DGHead(name=name, **TINY)
  head(mixed_4f)
  return head


@pytest.fixture(scope='module')
def models():
  backbone, mixed_4f = _backbone()
  return backbone, _head(mixed_4f, 'head_a'), _head(mixed_4f, 'head_b')


@pytest.fixture(scope='module')
def slim_values(models):
  backbone, head, _ = models
  values = fx.random_slim_values(backbone, seed=1)
  values.update(fx.random_slim_values(head, seed=2))
  return values


def _write(tmp_path, values, extra=None):
  values = dict(values)
  values.update(extra or {})
  return fx.write_checkpoint(str(tmp_path / 'model.ckpt'), values)


def test_restores_backbone_and_every_head(tmp_path, models, slim_values):
  backbone, head_a, head_b = models
  path = _write(tmp_path, slim_values, {
      'InceptionV1/Logits/Conv2d_0c_1x1/weights': np.zeros((1, 1, 1, 4, 5),
                                                           np.float32),
      'InceptionV1/Conv2d_1a_7x7/weights/Momentum': np.zeros((1,), np.float32),
      'global_step': np.array(7, np.int64)})
  report = loader.load_slim_s3dg_checkpoint(path, [backbone, head_a, head_b])
  for model in (backbone, head_a, head_b):
    for name, variable in model.slim_variables().items():
      np.testing.assert_array_equal(variable.numpy(),
                                    slim_values['InceptionV1/' + name], name)
  num_variables = sum(len(m.variables) for m in models)
  assert len(report.restored) == num_variables
  assert report.skipped_checkpoint == [
      'InceptionV1/Conv2d_1a_7x7/weights/Momentum',
      'InceptionV1/Logits/Conv2d_0c_1x1/weights', 'global_step']
  assert not report.skipped_model and not report.adapted
  assert ('InceptionV1/Mixed_5b/Branch_0/Conv2d_0a_1x1/weights',
          'head_b/Mixed_5b/Branch_0/Conv2d_0a_1x1/conv3d/kernel:0') in (
              report.restored)


def test_restored_units_compute_what_slim_computes(tmp_path, models,
                                                   slim_values):
  """Conv+BN+ReLU and self-gating against tf.nn on the checkpoint arrays."""
  backbone = models[0]
  path = _write(tmp_path, slim_values)
  loader.load_slim_s3dg_checkpoint(path, list(models))
  ckpt = tf.train.load_checkpoint(path)
  get = lambda name: tf.constant(ckpt.get_tensor('InceptionV1/' + name))
  eps = 1e-3

  def conv_bn_relu(x, scope, strides):
    y = tf.nn.conv3d(x, get(scope + '/weights'), strides, 'SAME')
    y = (y - get(scope + '/BatchNorm/moving_mean')) / tf.sqrt(
        get(scope + '/BatchNorm/moving_variance') + eps)
    return tf.nn.relu(y + get(scope + '/BatchNorm/beta'))

  video = tf.random.stateless_uniform(VIDEO_SHAPE, (3, 4), -1.0, 1.0)
  keras = backbone.block('Conv2d_1a_7x7')(video, training=False)
  expected = conv_bn_relu(video, 'Conv2d_1a_7x7', [1, 2, 2, 2, 1])
  np.testing.assert_allclose(keras.numpy(), expected.numpy(), atol=1e-4)

  scope = 'Mixed_4b/Branch_0/Conv2d_0a_1x1'
  x = tf.random.stateless_normal((2, 2, 3, 5, 120), (5, 6))
  unit = backbone.block('Mixed_4b').units['Branch_0/Conv2d_0a_1x1']
  keras = unit(x, training=False)
  y = conv_bn_relu(x, scope, [1] * 5)
  w = get(scope + '/self_gating/transformer_W/weights')
  gates = tf.sigmoid(tf.nn.conv3d(tf.reduce_mean(y, [1, 2, 3], keepdims=True),
                                  w, [1] * 5, 'VALID'))
  np.testing.assert_allclose(keras.numpy(), (y * gates).numpy(), atol=1e-4)


def test_missing_variable_is_named_and_nothing_is_assigned(tmp_path):
  backbone, _ = _backbone()
  values = fx.random_slim_values(backbone)
  missing = 'InceptionV1/Mixed_4b/Branch_0/Conv2d_0a_1x1/BatchNorm/beta'
  del values[missing]
  path = _write(tmp_path, values)
  before = backbone.slim_variables()['Conv2d_1a_7x7/weights'].numpy()
  with pytest.raises(loader.SlimCheckpointMismatchError) as error:
    loader.load_slim_s3dg_checkpoint(path, backbone)
  keras_name = 's3dg/Mixed_4b/Branch_0/Conv2d_0a_1x1/BatchNorm/beta:0'
  assert error.value.unrestored_model == [(missing, keras_name)]
  assert not error.value.unmatched_checkpoint
  assert not error.value.shape_mismatches
  assert str(error.value) == (
      f'Slim checkpoint {path} does not fit the model; nothing was restored.\n'
      '1 model variable(s) missing from the checkpoint:\n'
      f'  {missing} (Keras {keras_name})')
  np.testing.assert_array_equal(
      backbone.slim_variables()['Conv2d_1a_7x7/weights'].numpy(), before)


def test_wrong_shape_is_named_with_both_shapes(tmp_path):
  backbone, _ = _backbone()
  values = fx.random_slim_values(backbone)
  name = 'InceptionV1/Conv2d_2b_1x1/weights'
  values[name] = np.zeros((1, 1, 1, 16, 17), np.float32)
  path = _write(tmp_path, values)
  with pytest.raises(loader.SlimCheckpointMismatchError) as error:
    loader.load_slim_s3dg_checkpoint(path, backbone)
  keras_name = 's3dg/Conv2d_2b_1x1/conv3d/kernel:0'
  assert error.value.shape_mismatches == [
      (name, keras_name, [1, 1, 1, 16, 16], [1, 1, 1, 16, 17])]
  assert str(error.value).endswith(
      '1 shape mismatch(es):\n'
      f'  {name} (Keras {keras_name}): expected [1, 1, 1, 16, 16], found '
      '[1, 1, 1, 16, 17]')


def test_unmatched_checkpoint_variable_is_named_unless_ignored(tmp_path):
  backbone, _ = _backbone()
  values = fx.random_slim_values(backbone)
  extra = 'InceptionV1/Mixed_5b/Branch_0/Conv2d_0a_1x1/weights'
  path = _write(tmp_path, values, {extra: np.zeros((2,), np.float32)})
  with pytest.raises(loader.SlimCheckpointMismatchError) as error:
    loader.load_slim_s3dg_checkpoint(path, backbone)
  assert error.value.unmatched_checkpoint == [extra]
  assert 'match no model variable' in str(error.value)
  report = loader.load_slim_s3dg_checkpoint(
      path, backbone,
      ignore_missing=loader.endpoint_ignore_patterns(['Mixed_5b']))
  assert report.skipped_checkpoint == [extra]


def test_ignored_model_variables_keep_their_values(tmp_path):
  backbone, _ = _backbone()
  values = {n: v for n, v in fx.random_slim_values(backbone).items()
            if 'self_gating' not in n}
  path = _write(tmp_path, values)
  gate = backbone.slim_variables()[
      'Mixed_4f/Branch_3/Conv2d_0b_1x1/self_gating/transformer_W/weights']
  before = gate.numpy()
  report = loader.load_slim_s3dg_checkpoint(path, backbone,
                                            ignore_missing=['self_gating'])
  np.testing.assert_array_equal(gate.numpy(), before)
  gated = [n for n in backbone.slim_variables() if 'self_gating' in n]
  assert sorted(s for s, _ in report.skipped_model) == sorted(
      'InceptionV1/' + n for n in gated)
  assert len(report.restored) == len(backbone.variables) - len(gated)


def test_flow_tower_from_rgb_checkpoint_averages_first_conv(tmp_path):
  rgb, _ = _backbone()
  values = fx.random_slim_values(rgb)
  path = _write(tmp_path, values)
  flow, _ = _backbone(input_channels=2)
  with pytest.raises(loader.SlimCheckpointMismatchError,
                     match='expected \\[3, 7, 7, 2, 16\\], found '
                     '\\[3, 7, 7, 3, 16\\]'):
    loader.load_slim_s3dg_checkpoint(path, flow, adapt_input_channels=False)
  report = loader.load_slim_s3dg_checkpoint(path, flow)
  rgb_kernel = values['InceptionV1/Conv2d_1a_7x7/weights']
  mean = rgb_kernel.mean(axis=3, keepdims=True)
  np.testing.assert_allclose(
      flow.slim_variables()['Conv2d_1a_7x7/weights'].numpy(),
      np.concatenate([mean, mean], axis=3), rtol=1e-6)
  assert len(report.adapted) == 1
  assert report.adapted[0].startswith('InceptionV1/Conv2d_1a_7x7/weights')


def test_scope_and_directory(tmp_path):
  backbone, _ = _backbone()
  values = fx.random_slim_values(backbone, scope='RGB/InceptionV1')
  prefix = _write(tmp_path, values)
  tf.compat.v1.train.update_checkpoint_state(str(tmp_path), prefix)
  report = loader.load_slim_s3dg_checkpoint(str(tmp_path), backbone,
                                            scope='RGB/InceptionV1')
  assert report.checkpoint_path == prefix
  assert len(report.restored) == len(backbone.variables)


def test_bad_inputs_are_refused(tmp_path):
  with pytest.raises(ValueError, match='none.ckpt.index does not exist'):
    loader.load_slim_s3dg_checkpoint(str(tmp_path / 'none.ckpt'), [])
  empty = tmp_path / 'empty'
  os.makedirs(empty)
  with pytest.raises(ValueError, match='no checkpoint in this directory'):
    loader.load_slim_s3dg_checkpoint(str(empty), [])
  path = fx.write_checkpoint(str(tmp_path / 'x.ckpt'),
                             {'a': np.zeros(1, np.float32)})
  with pytest.raises(ValueError, match='is not built'):
    loader.load_slim_s3dg_checkpoint(path, s3dg.S3DG(**TINY))


def test_unowned_endpoint_patterns_leave_each_part_its_own(models):
  backbone, head, _ = models
  patterns = loader.unowned_endpoint_patterns(backbone)
  assert patterns == loader.endpoint_ignore_patterns(
      ['MaxPool_2a_3x3', 'MaxPool_3a_3x3', 'MaxPool_4a_3x3',
       'MaxPool_5a_2x2', 'Mixed_5b', 'Mixed_5c'])
  assert loader.unowned_endpoint_patterns(head) == (
      loader.endpoint_ignore_patterns(s3dg.ENDPOINTS[:-2]))
  assert loader.unowned_endpoint_patterns([backbone, head]) == (
      loader.endpoint_ignore_patterns(
          ['MaxPool_2a_3x3', 'MaxPool_3a_3x3', 'MaxPool_4a_3x3',
           'MaxPool_5a_2x2']))
