"""Resize+Concat: the crop with the resized scene, reduced back to c."""

import numpy as np
import pytest
import tensorflow as tf

from acrn_tf.relation import resize_concat


def _inputs(rng, time_steps=None):
  shape = (2, 3) + ((time_steps,) if time_steps else ()) + (7, 7, 6)
  crops = tf.constant(rng.normal(size=shape) * 3.0, tf.float32)
  maps = {'Mixed_4f': tf.constant(rng.normal(size=(2, 4, 5, 6)), tf.float32),
          'Mixed_3c': tf.constant(rng.normal(size=(2, 8, 10, 4)), tf.float32)}
  return crops, tf.zeros([2, 3, 4]), maps


@pytest.mark.parametrize('time_steps', [None, 2])
def test_starts_as_the_base_model(time_steps):
  rng = np.random.default_rng(0)
  crops, boxes, maps = _inputs(rng, time_steps)
  module = resize_concat.ResizeConcat(
      scene_features=[('Mixed_4f', 1.0), ('Mixed_3c', 0.5)])
  out = module.head_inputs(crops, boxes, maps)
  assert out.shape == crops.shape
  np.testing.assert_allclose(out.numpy(), crops.numpy(), atol=1e-5)
  assert module(tf.ones([2, 3, 8]), boxes, maps).relation_features is None
  assert module.scene_endpoints == ('Mixed_4f', 'Mixed_3c')


def test_values_against_numpy():
  rng = np.random.default_rng(1)
  crops, boxes, maps = _inputs(rng)
  module = resize_concat.ResizeConcat(scene_features=[('Mixed_4f', 1.0)])
  module.head_inputs(crops, boxes, maps)
  kernel = rng.normal(size=(12, 6)).astype(np.float32)
  bias = rng.normal(size=(6,)).astype(np.float32)
  module._conv.set_weights([kernel, bias])
  out = module.head_inputs(crops, boxes, maps).numpy()

  scene = tf.image.resize(maps['Mixed_4f'], [7, 7]).numpy()  # [2, 7, 7, 6]
  b, i, y, x = 1, 2, 3, 5
  crop_cell = crops.numpy()[b, i, y, x]
  scene_cell = scene[b, y, x]
  scale = np.linalg.norm(crop_cell) / np.sqrt(2.0)
  concat = scale * np.concatenate([crop_cell / np.linalg.norm(crop_cell),
                                   scene_cell / np.linalg.norm(scene_cell)])
  np.testing.assert_allclose(out[b, i, y, x], concat @ kernel + bias,
                             rtol=1e-4, atol=1e-5)


def test_without_normalisation_concatenates_raw_features():
  rng = np.random.default_rng(2)
  crops, boxes, maps = _inputs(rng)
  module = resize_concat.ResizeConcat(scene_features=[('Mixed_4f', 1.0)],
                                      normalize_and_rescale=False)
  np.testing.assert_allclose(module.head_inputs(crops, boxes, maps).numpy(),
                             crops.numpy(), atol=1e-6)
  kernel = np.zeros((12, 6), np.float32)
  kernel[6:] = np.eye(6)
  module._conv.set_weights([kernel, np.zeros(6, np.float32)])
  scene = tf.image.resize(maps['Mixed_4f'], [7, 7]).numpy()
  np.testing.assert_allclose(module.head_inputs(crops, boxes, maps).numpy(),
                             np.broadcast_to(scene[:, None], crops.shape),
                             rtol=1e-5, atol=1e-5)


def test_gradient_into_scene_is_multiplied():
  rng = np.random.default_rng(3)
  crops, boxes, maps = _inputs(rng)
  grads = {}
  for multiplier in (1.0, 0.01):
    module = resize_concat.ResizeConcat(scene_features=[('Mixed_4f', 1.0)],
                                        gradient_multiplier=multiplier)
    module.head_inputs(crops, boxes, maps)
    module._conv.set_weights([rng.normal(size=(12, 6)).astype(np.float32)
                              if multiplier == 1.0 else grads['kernel'],
                              np.zeros(6, np.float32)])
    grads['kernel'] = module._conv.get_weights()[0]
    with tf.GradientTape() as tape:
      tape.watch(maps['Mixed_4f'])
      loss = tf.reduce_sum(module.head_inputs(crops, boxes, maps) ** 2)
    grads[multiplier] = tape.gradient(loss, maps['Mixed_4f']).numpy()
  np.testing.assert_array_equal(grads[0.01], grads[1.0] * np.float32(0.01))


def test_leaving_the_actor_feature_out_of_g_theta_is_refused():
  with pytest.raises(ValueError, match='actor_feature_in_g_theta=False '
                     'needs a module with g_theta'):
    resize_concat.ResizeConcat(actor_feature_in_g_theta=False)


def test_bad_crops_are_refused():
  module = resize_concat.ResizeConcat()
  with pytest.raises(ValueError, match='roi_crops must be'):
    module.head_inputs(tf.ones([2, 7, 7, 6]), tf.zeros([2, 1, 4]),
                       {'Mixed_4f': tf.ones([2, 4, 4, 6])})
