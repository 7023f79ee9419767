"""Santoro et al.'s relation module against a numpy computation."""

import numpy as np
import pytest
import tensorflow as tf

from acrn_tf.relation import santoro


def _inputs(rng):
  actors = tf.constant(rng.normal(size=(2, 3, 8)) * 4.0, tf.float32)
  boxes = tf.constant(rng.uniform(size=(2, 3, 4)), tf.float32)
  maps = {'Mixed_4f': tf.constant(rng.normal(size=(2, 3, 4, 5)), tf.float32)}
  return actors, boxes, maps


def test_shapes_and_values():
  rng = np.random.default_rng(0)
  actors, boxes, maps = _inputs(rng)
  module = santoro.SantoroRelation(num_units=6, gradient_multiplier=0.01)
  outputs = module(actors, boxes, maps)
  assert outputs.relation_features.shape == (2, 3, 6)
  assert outputs.relation_maps is None
  assert module.output_channels == 6
  assert module.scene_endpoints == ('Mixed_4f',)

  # Naive numpy: normalise, concatenate per (actor, cell), g_theta, mean, FC.
  a = actors.numpy()
  f = maps['Mixed_4f'].numpy()
  kernel = module._g_theta.kernel.numpy()
  bias = module._g_theta.bias.numpy()
  fc_kernel, fc_bias = [w.numpy() for w in module._f_phi.weights]
  expected = np.zeros((2, 3, 6), np.float32)
  for b in range(2):
    for i in range(3):
      norm = np.linalg.norm(a[b, i])
      s = norm / np.sqrt(2.0)
      relations = []
      for j in range(3):
        for k in range(4):
          cell = f[b, j, k] / np.linalg.norm(f[b, j, k])
          x = np.concatenate([s * a[b, i] / norm, boxes.numpy()[b, i],
                              s * cell, [j / 3.0, k / 4.0]])
          relations.append(np.maximum(x @ kernel + bias, 0.0))
      pooled = np.mean(relations, axis=0)
      expected[b, i] = np.maximum(pooled @ fc_kernel + fc_bias, 0.0)
  np.testing.assert_allclose(outputs.relation_features.numpy(), expected,
                             rtol=1e-4, atol=1e-5)


def test_without_the_actor_feature_f_a_does_not_change_f_rn():
  rng = np.random.default_rng(1)
  actors, boxes, maps = _inputs(rng)
  module = santoro.SantoroRelation(num_units=6,
                                   actor_feature_in_g_theta=False)
  first = module(actors, boxes, maps).relation_features.numpy()
  second = module(actors * -3.0 + 1.0, boxes,
                  maps).relation_features.numpy()
  np.testing.assert_array_equal(first, second)
  assert module.get_config()['actor_feature_in_g_theta'] is False
  # The box still matters.
  moved = module(actors, boxes[:, ::-1], maps).relation_features.numpy()
  assert np.abs(moved - first).max() > 1e-4


def test_bad_num_units_is_refused():
  with pytest.raises(ValueError, match='num_units must be >= 1'):
    santoro.SantoroRelation(num_units=0)
