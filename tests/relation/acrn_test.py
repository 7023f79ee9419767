"""ACRN: shapes, the g_theta decomposition, and the gradient multiplier."""

import numpy as np
import pytest
import tensorflow as tf

from acrn_tf.relation import acrn

_HEAD = dict(depth_multiplier=0.25, min_depth=8,
             temporal_conv_startat='Mixed_4b', gating_startat='Mixed_4b')


def _module(**kwargs):
  kwargs.setdefault('relation_channels', 12)
  kwargs.setdefault('head_config', _HEAD)
  return acrn.ActorCentricRelation(**kwargs)


def _inputs(seed=0, actors=3):
  rng = np.random.default_rng(seed)
  norms = rng.uniform(0.5, 20.0, size=(2, actors, 1))
  actor_features = tf.constant(rng.normal(size=(2, actors, 16)) * norms,
                               tf.float32)
  boxes = tf.constant(np.sort(rng.uniform(size=(2, actors, 4)), -1),
                      tf.float32)
  maps = {'Mixed_4f': tf.constant(rng.normal(size=(2, 4, 5, 12)) * 3.0,
                                  tf.float32),
          'Conv2d_2c_3x3': tf.constant(rng.normal(size=(2, 16, 20, 6)),
                                       tf.float32)}
  return actor_features, boxes, maps


def _copy_weights(source, target, inputs):
  target(*inputs)
  target.set_weights(source.get_weights())


def test_shapes_and_pooling():
  inputs = _inputs()
  module = _module(inflated_time_steps=2)
  outputs = module(*inputs, training=False)
  channels = module.output_channels
  assert channels == 256  # Mixed_5c at depth multiplier 0.25.
  assert outputs.relation_features.shape == (2, 3, channels)
  assert outputs.relation_maps.shape == (2, 3, 4, 5, channels)
  np.testing.assert_allclose(
      outputs.relation_features.numpy(),
      outputs.relation_maps.numpy().mean(axis=(2, 3)), rtol=1e-5, atol=1e-6)
  relation = module.relation_input_maps(*inputs)
  assert relation.shape == (2, 3, 4, 5, 12)
  assert module.relation_head.slim_variables()


def test_several_scene_maps_at_several_scales():
  inputs = _inputs()
  module = _module(scene_features=[('Mixed_4f', 1.0),
                                   ('Conv2d_2c_3x3', 0.5)])
  outputs = module(*inputs)
  assert outputs.relation_maps.shape[2:4] == (8, 10)
  assert module.scene_endpoints == ('Mixed_4f', 'Conv2d_2c_3x3')
  # g_theta reads f_a (16) + box (4) + both maps (12 + 6) + location (2).
  assert module.g_theta.kernel.shape == (40, 12)


def test_decomposed_equals_naive():
  inputs = _inputs(seed=1, actors=4)
  decomposed = _module(decompose_g_theta=True)
  naive = _module(decompose_g_theta=False)
  decomposed(*inputs)
  _copy_weights(decomposed, naive, inputs)
  np.testing.assert_allclose(decomposed.relation_input_maps(*inputs).numpy(),
                             naive.relation_input_maps(*inputs).numpy(),
                             atol=1e-5, rtol=1e-5)
  np.testing.assert_allclose(decomposed(*inputs).relation_features.numpy(),
                             naive(*inputs).relation_features.numpy(),
                             atol=1e-5, rtol=1e-5)


def _gradients(module, inputs, base_weight=None, relation_weight=1.0):
  """dL/dF and dL/df_a for L = base(F) + relation branch (toy losses)."""
  actor_features, boxes, maps = inputs
  feature_map = maps['Mixed_4f']
  rng = np.random.default_rng(5)
  with tf.GradientTape(persistent=True) as tape:
    tape.watch([feature_map, actor_features])
    loss = 0.0
    if relation_weight:
      outputs = module(actor_features, boxes, maps)
      weights = tf.constant(
          rng.normal(size=outputs.relation_features.shape), tf.float32)
      loss += relation_weight * tf.reduce_sum(
          outputs.relation_features * weights)
    if base_weight is not None:
      # A stand-in for the Base-Model's use of F (its ROI crops).
      crops = tf.image.crop_and_resize(feature_map, [[0.1, 0.2, 0.8, 0.9]],
                                       [0], [3, 3])
      loss += tf.reduce_sum(crops * base_weight)
  grad_actor = tape.gradient(loss, actor_features)
  return (tape.gradient(loss, feature_map).numpy(),
          None if grad_actor is None else grad_actor.numpy())


def test_gradient_multiplier_scales_only_the_feature_map_gradient():
  inputs = _inputs(seed=2)
  scaled = _module(gradient_multiplier=0.01)
  unscaled = _module(gradient_multiplier=1.0)
  scaled(*inputs)
  _copy_weights(scaled, unscaled, inputs)
  grad_f_scaled, grad_a_scaled = _gradients(scaled, inputs)
  grad_f_unscaled, grad_a_unscaled = _gradients(unscaled, inputs)
  assert np.abs(grad_f_unscaled).max() > 0
  np.testing.assert_array_equal(grad_f_scaled,
                                grad_f_unscaled * np.float32(0.01))
  # f_a's gradient from the relation branch is not scaled.
  np.testing.assert_array_equal(grad_a_scaled, grad_a_unscaled)

  # Through the base branch alone the gradient is 1x; with both branches it
  # is the base gradient plus 0.01 times the relation gradient.
  base_weight = tf.constant(
      np.random.default_rng(6).normal(size=(1, 3, 3, 12)), tf.float32)
  grad_base, _ = _gradients(scaled, inputs, base_weight, relation_weight=0.0)
  with tf.GradientTape() as tape:
    tape.watch(inputs[2]['Mixed_4f'])
    crops = tf.image.crop_and_resize(inputs[2]['Mixed_4f'],
                                     [[0.1, 0.2, 0.8, 0.9]], [0], [3, 3])
    crops_grad = tape.gradient(tf.reduce_sum(crops * base_weight),
                               inputs[2]['Mixed_4f']).numpy()
  np.testing.assert_array_equal(grad_base, crops_grad)
  grad_both, _ = _gradients(scaled, inputs, base_weight)
  np.testing.assert_allclose(grad_both, grad_base + grad_f_scaled,
                             rtol=1e-6, atol=1e-9)


def test_without_the_actor_feature_f_a_only_reaches_the_classifier():
  actor_features, boxes, maps = _inputs()
  module = _module(actor_feature_in_g_theta=False)
  first = module(actor_features, boxes, maps, training=False)
  other = module(actor_features * 0.1 - 2.0, boxes, maps, training=False)
  np.testing.assert_array_equal(first.relation_maps.numpy(),
                                other.relation_maps.numpy())
  # g_theta's kernel has rows for the box, Mixed_4f and the location only.
  assert module.g_theta.kernel.shape == (4 + 12 + 2, 12)
  moved = module(actor_features, boxes[:, ::-1], maps, training=False)
  assert np.abs(moved.relation_features.numpy() -
                first.relation_features.numpy()).max() > 1e-5
  clone = acrn.ActorCentricRelation.from_config(module.get_config())
  assert not clone.actor_feature_in_g_theta


def test_config_round_trip():
  module = _module(scene_features=[('Conv2d_2c_3x3', 0.5)],
                   inflated_time_steps=2)
  clone = acrn.ActorCentricRelation.from_config(module.get_config())
  assert clone.get_config() == module.get_config()
  assert clone.scene_endpoints == ('Conv2d_2c_3x3',)


def test_bad_arguments_are_refused():
  with pytest.raises(ValueError, match='relation_channels must be >= 1'):
    _module(relation_channels=0)
  with pytest.raises(ValueError, match='inflated_time_steps must be >= 1'):
    _module(inflated_time_steps=0)
  with pytest.raises(ValueError, match='gradient_multiplier must be >= 0'):
    _module(gradient_multiplier=-1.0)
  with pytest.raises(ValueError, match=r'actor_boxes must be \[batch'):
    _module()(tf.ones([1, 2, 16]), tf.ones([1, 2, 3]),
              {'Mixed_4f': tf.ones([1, 2, 2, 12])})


def test_numpy_boxes_and_scene_maps_are_taken_as_tensors():
  actor_features, boxes, maps = _inputs()
  module = _module()
  expected = module(actor_features, boxes, maps).relation_features
  numpy_maps = {name: value.numpy() for name, value in maps.items()}
  got = module(actor_features.numpy(), boxes.numpy(),
               numpy_maps).relation_features
  np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5,
                             atol=1e-6)
  with pytest.raises(ValueError, match=r'actor_boxes must be \[batch.*'
                     r'got shape \(1, 2, 3\)'):
    module(tf.ones([1, 2, 16]), np.ones([1, 2, 3], np.float32),
           {'Mixed_4f': np.ones([1, 2, 2, 12], np.float32)})
