"""Relation heat maps: CAM, per-detection selection, colouring, blending."""

import cv2
import numpy as np
import pytest
import tensorflow as tf

from acrn_tf.visualization import heatmaps


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


def test_normalize_heatmap():
  np.testing.assert_allclose(
      heatmaps.normalize_heatmap(np.array([[-1.0, 1.0], [0.0, 3.0]])),
      [[0.0, 0.5], [0.25, 1.0]])
  np.testing.assert_array_equal(heatmaps.normalize_heatmap(np.full((2, 2), 7.)),
                                np.zeros((2, 2)))
  with pytest.raises(ValueError, match=r'must be \[h, w\]'):
    heatmaps.normalize_heatmap(np.zeros(3))


def test_colorize_maps_low_to_blue_and_high_to_red():
  heatmap = np.array([[0.0, 1.0]], np.float32)
  colors = heatmaps.colorize_heatmap(heatmap, 10, 20)
  assert colors.shape == (10, 20, 3) and colors.dtype == np.uint8
  left, right = colors[5, 0].astype(int), colors[5, -1].astype(int)
  assert left[2] > 100 and left[0] < 50  # RGB: blue
  assert right[0] > 100 and right[2] < 50  # RGB: red
  jet = cv2.applyColorMap(np.array([[255]], np.uint8), cv2.COLORMAP_JET)
  np.testing.assert_array_equal(right, jet[0, 0, ::-1])


def test_blend_is_a_weighted_sum():
  frame = np.full((8, 12, 3), 100, np.uint8)
  heatmap = np.random.default_rng(3).normal(size=(2, 3))
  colors = heatmaps.colorize_heatmap(heatmap, 8, 12).astype(np.float64)
  blended = heatmaps.blend_heatmap(frame, heatmap, alpha=0.25)
  assert blended.shape == frame.shape and blended.dtype == np.uint8
  np.testing.assert_allclose(blended, 0.75 * 100 + 0.25 * colors, atol=1.0)
  np.testing.assert_array_equal(heatmaps.blend_heatmap(frame, heatmap, 0.0),
                                frame)
  with pytest.raises(ValueError, match='alpha must be in'):
    heatmaps.blend_heatmap(frame, heatmap, 1.5)
  with pytest.raises(ValueError, match='frame must be uint8 RGB'):
    heatmaps.blend_heatmap(frame.astype(np.float32), heatmap)


def test_draw_box_with_label():
  frame = np.zeros((50, 80, 3), np.uint8)
  drawn = heatmaps.draw_box_with_label(frame, [0.4, 0.25, 0.8, 0.75], 'catch',
                                       color=(0, 255, 0), thickness=1)
  assert not frame.any()  # input untouched
  # Box edges at y = 0.4 * 49, x = 0.25 * 79 .. 0.75 * 79 (rounded).
  top, left, bottom, right = 20, 20, 39, 59
  np.testing.assert_array_equal(drawn[bottom, left:right + 1],
                                np.tile([0, 255, 0], (right - left + 1, 1)))
  np.testing.assert_array_equal(drawn[top:bottom + 1, right],
                                np.tile([0, 255, 0], (bottom - top + 1, 1)))
  # The label's tab sits above the box.
  assert (drawn[:top, left:right] == [0, 255, 0]).all(-1).any()
  assert not drawn[top + 2:bottom - 1, left + 2:right - 1].any()
  with pytest.raises(ValueError, match='box_normalized must be'):
    heatmaps.draw_box_with_label(frame, [0.1, 0.2, 0.3])
