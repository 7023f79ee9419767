"""Drawing heat maps and boxes: normalising, colouring, blending, labels."""

import cv2
import numpy as np
import pytest

from acrn_tf.visualization import heatmaps


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
