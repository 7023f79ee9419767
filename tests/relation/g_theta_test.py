"""g_theta: the decomposed form equals the naive per-actor concatenation."""

import numpy as np
import pytest
import tensorflow as tf

from acrn_tf.relation import g_theta


def _inputs(rng, normalize, num_scene_maps=1):
  """Actors with very different norms and several scene maps."""
  actor_norms = np.array([[0.5, 3.0, 40.0], [7.0, 0.1, 12.0]])[..., None]
  actors = tf.constant(rng.normal(size=(2, 3, 6)) * actor_norms, tf.float32)
  boxes = tf.constant(rng.uniform(size=(2, 3, 4)), tf.float32)
  maps = [tf.constant(rng.normal(size=(2, 4, 5, 3 + i)) * (i + 1) * 5,
                      tf.float32) for i in range(num_scene_maps)]
  return g_theta.relation_inputs(actors, boxes, maps, normalize)


def _pair(filters, activation, inputs):
  decomposed = g_theta.PairwiseRelationConv(filters, activation=activation,
                                            decompose=True)
  naive = g_theta.PairwiseRelationConv(filters, activation=activation,
                                       decompose=False)
  decomposed(inputs)
  naive(inputs)
  rng = np.random.default_rng(7)
  weights = [rng.normal(size=w.shape).astype(np.float32)
             for w in decomposed.get_weights()]
  decomposed.set_weights(weights)
  naive.set_weights(weights)
  return decomposed, naive


@pytest.mark.parametrize('normalize,num_scene_maps',
                         [(True, 1), (True, 2), (False, 1)])
def test_decomposition_equals_naive_concatenation(normalize, num_scene_maps):
  rng = np.random.default_rng(0)
  inputs = _inputs(rng, normalize, num_scene_maps)
  decomposed, naive = _pair(5, None, inputs)
  expected = naive(inputs).numpy()
  got = decomposed(inputs).numpy()
  assert got.shape == (2, 3, 4, 5, 5)
  assert np.abs(expected).max() > 1.0  # non-trivial values
  np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)


def test_one_pair_by_hand():
  rng = np.random.default_rng(3)
  actors, boxes, scene, scale = _inputs(rng, True)
  layer = g_theta.PairwiseRelationConv(4, activation='relu')
  out = layer((actors, boxes, scene, scale)).numpy()
  kernel, bias = [w.numpy() for w in (layer.kernel, layer.bias)]
  b, i, j, k = 1, 2, 3, 1
  s = scale.numpy()[b, i]
  x = np.concatenate([s * actors.numpy()[b, i], boxes.numpy()[b, i],
                      s * scene.numpy()[b, j, k], [j / 4.0, k / 5.0]])
  np.testing.assert_allclose(out[b, i, j, k],
                             np.maximum(x @ kernel + bias, 0.0), rtol=1e-5,
                             atol=1e-5)
  assert kernel.shape == (6 + 4 + 3 + 2, 4)


def test_normalised_inputs():
  rng = np.random.default_rng(4)
  actors = tf.constant(rng.normal(size=(1, 2, 3)), tf.float32)
  maps = [tf.constant(rng.normal(size=(1, 2, 2, 2)), tf.float32)] * 2
  out_actors, _, scene, scale = g_theta.relation_inputs(
      actors, tf.zeros([1, 2, 4]), maps, True)
  np.testing.assert_allclose(np.linalg.norm(out_actors.numpy(), axis=-1), 1.0,
                             rtol=1e-6)
  np.testing.assert_allclose(np.linalg.norm(scene.numpy(), axis=-1),
                             np.sqrt(2.0), rtol=1e-6)
  np.testing.assert_allclose(
      scale.numpy(), np.linalg.norm(actors.numpy(), axis=-1) / np.sqrt(3.0),
      rtol=1e-6)


@pytest.mark.parametrize('normalize', [True, False])
def test_without_the_actor_feature_g_theta_reads_box_cell_location(
    normalize):
  rng = np.random.default_rng(5)
  actors = tf.constant(rng.normal(size=(2, 3, 6)) * 9.0, tf.float32)
  boxes = tf.constant(rng.uniform(size=(2, 3, 4)), tf.float32)
  raw = tf.constant(rng.normal(size=(2, 4, 5, 3)) * 5.0, tf.float32)
  out_actors, _, scene, scale = g_theta.relation_inputs(
      actors, boxes, [raw], normalize, actor_feature=False)
  assert out_actors.shape == (2, 3, 0)
  np.testing.assert_array_equal(scale.numpy(), np.ones((2, 3)))
  expected_scene = raw.numpy()
  if normalize:  # per cell, not rescaled by the actor's norm
    expected_scene = expected_scene / np.linalg.norm(expected_scene, axis=-1,
                                                     keepdims=True)
  np.testing.assert_allclose(scene.numpy(), expected_scene, rtol=1e-5)

  inputs = (out_actors, boxes, scene, scale)
  decomposed, naive = _pair(4, 'relu', inputs)
  assert decomposed.kernel.shape == (4 + 3 + 2, 4)
  got = decomposed(inputs).numpy()
  np.testing.assert_allclose(got, naive(inputs).numpy(), atol=1e-5,
                             rtol=1e-5)
  kernel, bias = [w.numpy() for w in (decomposed.kernel, decomposed.bias)]
  b, i, j, k = 1, 0, 2, 4
  x = np.concatenate([boxes.numpy()[b, i], scene.numpy()[b, j, k],
                      [j / 4.0, k / 5.0]])
  np.testing.assert_allclose(got[b, i, j, k],
                             np.maximum(x @ kernel + bias, 0.0), rtol=1e-5,
                             atol=1e-5)


def test_bad_shapes_are_refused():
  layer = g_theta.PairwiseRelationConv(4)
  with pytest.raises(ValueError, match=r'boxes must be \[batch, num_boxes, 4\]'):
    layer((tf.ones([1, 2, 3]), tf.ones([1, 2, 5]), tf.ones([1, 2, 2, 3]),
           tf.ones([1, 2])))
  with pytest.raises(ValueError, match='filters must be >= 1'):
    g_theta.PairwiseRelationConv(0)
