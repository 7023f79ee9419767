"""Tests of the 2D-kernel 3D convolution and max pooling."""

import numpy as np
import pytest
import tensorflow as tf

from acrn_tf.models import conv3d_ops

# (input [t, h, w, c], kernel [t, h, w], strides): the S3D-G cases and odd
# sizes where SAME padding is asymmetric.
CONV_CASES = [
    ((8, 16, 16, 3), (3, 7, 7), (2, 2, 2)),
    ((7, 9, 11, 3), (7, 7, 7), (2, 2, 2)),
    ((4, 8, 8, 5), (1, 3, 3), (1, 1, 1)),
    ((5, 8, 8, 5), (3, 1, 1), (1, 1, 1)),
    ((6, 7, 5, 4), (3, 3, 3), (1, 2, 2)),
    ((4, 6, 6, 4), (1, 1, 1), (1, 1, 1)),
]


@pytest.mark.parametrize('input_shape,kernel_size,strides', CONV_CASES)
def test_conv_equals_conv3d_values_and_gradients(input_shape, kernel_size,
                                                 strides):
  rng = np.random.default_rng(0)
  inputs = tf.constant(rng.normal(size=(2,) + input_shape), tf.float32)
  kernel = tf.Variable(rng.normal(
      size=kernel_size + (input_shape[-1], 6)).astype(np.float32))

  def run(fn):
    with tf.GradientTape(persistent=True) as tape:
      tape.watch(inputs)
      outputs = fn()
      loss = tf.reduce_sum(outputs * outputs)
    return (outputs, tape.gradient(loss, kernel),
            tape.gradient(loss, inputs))

  expected = run(lambda: tf.nn.conv3d(inputs, kernel, (1,) + strides + (1,),
                                      'SAME'))
  got = run(lambda: conv3d_ops.conv3d_same(inputs, kernel, strides))
  for e, g in zip(expected, got):
    assert e.shape == g.shape
    np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize('pool_size,strides', [
    ((1, 3, 3), (1, 2, 2)), ((3, 3, 3), (2, 2, 2)), ((2, 2, 2), (2, 2, 2)),
    ((3, 3, 3), (1, 1, 1))])
@pytest.mark.parametrize('input_shape', [(8, 8, 8, 3), (5, 7, 9, 2)])
def test_max_pool_equals_max_pool3d(pool_size, strides, input_shape):
  rng = np.random.default_rng(1)
  inputs = tf.constant(rng.normal(size=(2,) + input_shape), tf.float32)
  expected = tf.nn.max_pool3d(inputs, (1,) + pool_size + (1,),
                              (1,) + strides + (1,), 'SAME')
  got = conv3d_ops.max_pool3d_same(inputs, pool_size, strides)
  np.testing.assert_array_equal(got.numpy(), expected.numpy())


def test_same_padding_matches_tensorflow_rule():
  # 7 frames, kernel 3, stride 2: 4 outputs need 9 inputs, 2 padded, 1 + 1.
  assert conv3d_ops.same_padding(7, 3, 2) == (1, 1)
  # 8 frames, kernel 3, stride 2: 4 outputs need 9 inputs: 0 before, 1 after.
  assert conv3d_ops.same_padding(8, 3, 2) == (0, 1)
  assert conv3d_ops.same_padding(8, 1, 1) == (0, 0)


def test_layers_keep_the_keras_variables_and_refuse_valid_padding():
  layer = conv3d_ops.Conv3D(4, (3, 3, 3), padding='same', name='conv3d')
  outputs = layer(tf.zeros([1, 4, 6, 6, 2]))
  assert outputs.shape == (1, 4, 6, 6, 4)
  assert [v.shape for v in layer.weights] == [(3, 3, 3, 2, 4), (4,)]
  with pytest.raises(ValueError, match='only SAME padding'):
    conv3d_ops.Conv3D(4, 3, padding='valid')
  with pytest.raises(ValueError, match='static t, h, w'):
    conv3d_ops.conv3d_same(tf.zeros([1, 4, 6, 6]), tf.zeros([1, 1, 1, 6, 1]),
                           (1, 1, 1))
