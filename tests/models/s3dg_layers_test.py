"""S3D-G building blocks against hand-written tf.nn computations."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from acrn_tf.models import s3dg_layers


def _randomise_bn(norm, rng):
  """Gives a built batch norm non-trivial statistics and beta."""
  channels = norm.beta.shape[0]
  norm.beta.assign(rng.normal(size=channels).astype(np.float32))
  norm.moving_mean.assign(rng.normal(size=channels).astype(np.float32))
  norm.moving_variance.assign(
      rng.uniform(0.5, 2.0, size=channels).astype(np.float32))


def test_conv_unit_is_conv_batch_norm_relu():
  rng = np.random.default_rng(0)
  unit = s3dg_layers.ConvUnit3D(5, (3, 3, 3), strides=(2, 2, 2),
                                separable=False, batch_norm_epsilon=1e-3,
                                name='Conv2d_1a_7x7')
  x = tf.constant(rng.normal(size=(2, 5, 7, 6, 3)), tf.float32)
  unit(x, training=False)
  names = unit.slim_variables()
  assert sorted(names) == ['BatchNorm/beta', 'BatchNorm/moving_mean',
                           'BatchNorm/moving_variance', 'weights']
  for variable in names.values():
    if variable.shape.rank == 1:
      variable.assign(rng.normal(size=variable.shape).astype(np.float32))
  names['BatchNorm/moving_variance'].assign(
      rng.uniform(0.5, 2, size=5).astype(np.float32))
  out = unit(x, training=False)
  conv = tf.nn.conv3d(x, names['weights'], [1, 2, 2, 2, 1], 'SAME')
  expected = tf.nn.relu(
      (conv - names['BatchNorm/moving_mean']) /
      tf.sqrt(names['BatchNorm/moving_variance'] + 1e-3) +
      names['BatchNorm/beta'])
  assert out.shape == (2, 3, 4, 3, 5)
  np.testing.assert_allclose(out.numpy(), expected.numpy(), atol=1e-5)


def test_separable_unit_splits_kernel_and_starts_as_its_spatial_part():
  unit = s3dg_layers.ConvUnit3D(4, (3, 3, 3), separable=True, use_gating=True,
                                name='Conv2d_0b_3x3')
  x = tf.random.stateless_normal((1, 4, 5, 5, 2), seed=(1, 2))
  out = unit(x, training=False)
  assert unit.is_split
  assert unit.conv_kernel_sizes == ((1, 3, 3), (3, 1, 1))
  assert sorted(unit.slim_variables()) == [
      'BatchNorm/beta', 'BatchNorm/moving_mean', 'BatchNorm/moving_variance',
      'self_gating/transformer_W/weights', 'temporal/biases',
      'temporal/weights', 'weights']
  temporal = unit.slim_variables()['temporal/weights'].numpy()
  expected = np.zeros((3, 1, 1, 4, 4), np.float32)
  expected[1, 0, 0] = np.eye(4)
  np.testing.assert_array_equal(temporal, expected)
  # Centre identity: spatial conv + BN + ReLU, ReLU again (no-op), gating.
  names = unit.slim_variables()
  spatial = tf.nn.relu(
      (tf.nn.conv3d(x, names['weights'], [1] * 5, 'SAME') -
       names['BatchNorm/moving_mean']) /
      tf.sqrt(names['BatchNorm/moving_variance'] + 1e-3) +
      names['BatchNorm/beta'])
  gate_w = names['self_gating/transformer_W/weights'][0, 0, 0]
  gates = tf.sigmoid(
      tf.einsum('bc,cd->bd', tf.reduce_mean(spatial, [1, 2, 3]), gate_w))
  np.testing.assert_allclose(out.numpy(),
                             (spatial * gates[:, None, None, None]).numpy(),
                             atol=1e-5)


def test_temporal_kernel_one_is_a_single_2d_conv():
  unit = s3dg_layers.ConvUnit3D(4, (1, 3, 3), separable=True, name='Conv')
  unit(tf.zeros((1, 2, 4, 4, 3)))
  assert not unit.is_split
  assert unit.conv_kernel_sizes == ((1, 3, 3),)
  assert 'temporal/weights' not in unit.slim_variables()


def test_self_gating_equals_hand_computation_on_non_square_map():
  rng = np.random.default_rng(3)
  gating = s3dg_layers.SelfGating(name='self_gating')
  x = tf.constant(rng.normal(size=(2, 3, 4, 6, 5)), tf.float32)
  out = gating(x)
  w = gating.slim_variables()['self_gating/transformer_W/weights']
  assert w.shape == (1, 1, 1, 5, 5)
  w.assign(rng.normal(size=(1, 1, 1, 5, 5)).astype(np.float32))
  out = gating(x).numpy()
  x_np = x.numpy()
  mean = x_np.mean(axis=(1, 2, 3))  # [2, 5]
  gates = 1.0 / (1.0 + np.exp(-(mean @ w.numpy()[0, 0, 0])))
  np.testing.assert_allclose(out, x_np * gates[:, None, None, None, :],
                             rtol=1e-5, atol=1e-6)


def test_frozen_batch_norm_ignores_training():
  rng = np.random.default_rng(4)
  norm = s3dg_layers.FrozenBatchNormalization(scale=False)
  x = tf.constant(rng.normal(5.0, 3.0, size=(4, 6, 3)), tf.float32)
  norm(x)
  _randomise_bn(norm, rng)
  before = norm.moving_mean.numpy().copy()
  in_training = norm(x, training=True)
  np.testing.assert_allclose(in_training, norm(x, training=False))
  np.testing.assert_array_equal(norm.moving_mean.numpy(), before)
  assert norm.beta.trainable


def test_inception_block_channels_pool_and_gated_units():
  block = s3dg_layers.InceptionBlock3D([4, 3, 5, 2, 6, 7],
                                       temporal_kernel_size=3, use_gating=True,
                                       name='Mixed_4b')
  out = block(tf.random.stateless_normal((1, 4, 6, 6, 8), seed=(0, 1)))
  assert out.shape == (1, 4, 6, 6, 4 + 5 + 6 + 7)
  gated = sorted(scope for scope, unit in block.units.items()
                 if unit.uses_gating)
  assert gated == ['Branch_0/Conv2d_0a_1x1', 'Branch_1/Conv2d_0b_3x3',
                   'Branch_2/Conv2d_0b_3x3', 'Branch_3/Conv2d_0b_1x1']
  assert block.units['Branch_1/Conv2d_0b_3x3'].conv_kernel_sizes == (
      (1, 3, 3), (3, 1, 1))
  assert 'Branch_2/Conv2d_0b_3x3/temporal/biases' in block.slim_variables()
  # Every Keras variable has exactly one slim name.
  assert len(block.slim_variables()) == len(block.variables)


def test_inception_block_branch_3_max_pools_before_its_conv():
  block = s3dg_layers.InceptionBlock3D([1, 1, 1, 1, 1, 1],
                                       temporal_kernel_size=1,
                                       use_gating=False)
  x = tf.random.stateless_normal((1, 3, 4, 4, 2), seed=(5, 6))
  out = block(x, training=False)
  unit = block.units['Branch_3/Conv2d_0b_1x1']
  names = unit.slim_variables()
  pooled = tf.nn.max_pool3d(x, [1, 3, 3, 3, 1], [1] * 5, 'SAME')
  expected = tf.nn.relu(
      (tf.nn.conv3d(pooled, names['weights'], [1] * 5, 'SAME') -
       names['BatchNorm/moving_mean']) /
      tf.sqrt(names['BatchNorm/moving_variance'] + 1e-3) +
      names['BatchNorm/beta'])
  np.testing.assert_allclose(out[..., 3:].numpy(), expected.numpy(),
                             atol=1e-5)


def test_weight_decay_matches_slim_l2():
  unit = s3dg_layers.ConvUnit3D(2, (1, 1, 1), weight_decay=0.1)
  unit(tf.zeros((1, 1, 1, 1, 3)))
  kernel = unit.slim_variables()['weights'].numpy()
  np.testing.assert_allclose(float(tf.add_n(unit.losses)),
                             0.1 * np.sum(kernel ** 2) / 2, rtol=1e-5)


@pytest.mark.parametrize('kwargs, message', [
    (dict(filters=0), 'filters must be >= 1'),
    (dict(filters=2, kernel_size=(1, 3)), 'kernel_size must be'),
])
def test_conv_unit_rejects_bad_arguments(kwargs, message):
  with pytest.raises(ValueError, match=message):
    s3dg_layers.ConvUnit3D(**kwargs)


def test_get_config_round_trips():
  block = s3dg_layers.InceptionBlock3D([4, 3, 5, 2, 6, 7],
                                       temporal_kernel_size=3,
                                       use_frozen_batch_norm=True,
                                       name='Mixed_5b')
  config = block.get_config()
  clone = tf_keras.layers.deserialize(tf_keras.layers.serialize(block))
  assert isinstance(clone, s3dg_layers.InceptionBlock3D)
  assert clone.get_config() == config
  assert config['branch_filters'] == (4, 3, 5, 2, 6, 7)
