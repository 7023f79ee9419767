"""Relation heat maps: CAM and the per-detection selection."""

import numpy as np
import pytest
import tensorflow as tf

from acrn_tf.relation import heatmaps


def test_cam_mean_is_the_relation_logit():
  rng = np.random.default_rng(0)
  maps = tf.constant(rng.normal(size=(2, 3, 4, 5, 6)), tf.float32)
  kernel = tf.constant(rng.normal(size=(6, 7)), tf.float32)
  cams = heatmaps.class_activation_maps(maps, kernel)
  assert cams.shape == (2, 3, 4, 5, 7)
  features = tf.reduce_mean(maps, axis=[2, 3])
  np.testing.assert_allclose(tf.reduce_mean(cams, axis=[2, 3]).numpy(),
                             (features @ kernel).numpy(), rtol=1e-5, atol=1e-5)
  # One cell by hand.
  np.testing.assert_allclose(cams.numpy()[1, 2, 3, 4],
                             maps.numpy()[1, 2, 3, 4] @ kernel.numpy(),
                             rtol=1e-5)


def test_cam_averages_a_time_axis():
  rng = np.random.default_rng(1)
  maps = tf.constant(rng.normal(size=(1, 2, 3, 4, 4, 5)), tf.float32)
  kernel = tf.constant(rng.normal(size=(5, 2)), tf.float32)
  np.testing.assert_allclose(
      heatmaps.class_activation_maps(maps, kernel).numpy(),
      heatmaps.class_activation_maps(tf.reduce_mean(maps, 2), kernel).numpy(),
      rtol=1e-5, atol=1e-6)


def test_cam_refuses_mismatched_channels():
  with pytest.raises(ValueError, match=r'relation_kernel must be \[6'):
    heatmaps.class_activation_maps(tf.ones([1, 1, 2, 2, 6]), tf.ones([5, 3]))


def test_detection_heatmaps_pick_box_and_class():
  rng = np.random.default_rng(2)
  cams = rng.normal(size=(2, 3, 4, 5, 6)).astype(np.float32)
  boxes = np.array([[2, 0, -1], [1, 1, 0]], np.int32)
  logits = np.array([[5, 1, 3], [0, 4, 2]], np.int32)
  out = heatmaps.detection_heatmaps(tf.constant(cams), boxes, logits).numpy()
  assert out.shape == (2, 3, 4, 5)
  np.testing.assert_array_equal(out[0, 0], cams[0, 2, :, :, 5])
  np.testing.assert_array_equal(out[0, 1], cams[0, 0, :, :, 1])
  np.testing.assert_array_equal(out[0, 2], np.zeros((4, 5)))  # padding
  np.testing.assert_array_equal(out[1, 1], cams[1, 1, :, :, 4])
  np.testing.assert_array_equal(out[1, 2], cams[1, 0, :, :, 2])
