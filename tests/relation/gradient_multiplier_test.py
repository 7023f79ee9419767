"""multiply_gradient: identity forward, scaled gradient backward."""

import numpy as np
import pytest
import tensorflow as tf

from acrn_tf.relation import gradient_multiplier


def _value_and_gradient(x, multiplier, weights):
  with tf.GradientTape() as tape:
    tape.watch(x)
    y = gradient_multiplier.multiply_gradient(x, multiplier)
    loss = tf.reduce_sum(tf.square(y) * weights)
  return y, tape.gradient(loss, x)


@pytest.mark.parametrize('multiplier', [0.01, 0.5, 3.0])
def test_gradient_is_multiplied_exactly(multiplier):
  rng = np.random.default_rng(0)
  x = tf.constant(rng.normal(size=(2, 3, 4, 5)), tf.float32)
  weights = tf.constant(rng.normal(size=(2, 3, 4, 5)), tf.float32)
  y, grad = _value_and_gradient(x, multiplier, weights)
  _, unscaled = _value_and_gradient(x, 1.0, weights)
  np.testing.assert_array_equal(y.numpy(), x.numpy())
  np.testing.assert_array_equal(
      grad.numpy(), unscaled.numpy() * np.float32(multiplier))
  # d/dx sum(w x^2) = 2 w x, by hand.
  np.testing.assert_allclose(unscaled.numpy(), 2 * weights.numpy() * x.numpy(),
                             rtol=1e-6)


def test_zero_multiplier_stops_the_gradient():
  x = tf.constant([[1.0, -2.0]])
  _, grad = _value_and_gradient(x, 0.0, tf.ones_like(x))
  np.testing.assert_array_equal(grad.numpy(), np.zeros((1, 2), np.float32))


def test_inside_tf_function():
  x = tf.constant([[1.0, -2.0, 3.0]])

  @tf.function
  def gradient(value):
    with tf.GradientTape() as tape:
      tape.watch(value)
      loss = tf.reduce_sum(
          gradient_multiplier.multiply_gradient(value, 0.01) * 2.0)
    return tape.gradient(loss, value)

  np.testing.assert_array_equal(gradient(x).numpy(),
                                np.full((1, 3), np.float32(2.0) * np.float32(0.01)))


def test_negative_multiplier_is_refused():
  with pytest.raises(ValueError, match='gradient_multiplier must be >= 0'):
    gradient_multiplier.multiply_gradient(tf.ones([2]), -0.1)
