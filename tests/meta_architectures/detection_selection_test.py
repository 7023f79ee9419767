"""Tests of detection_selection: NMS worked out by hand on three boxes."""

import numpy as np
import tensorflow as tf

from acrn_tf.core import standard_fields as fields
from acrn_tf.meta_architectures import detection_selection

_D = fields.DetectionResultFields
# Box 1 overlaps box 0 with IoU 0.9; box 2 only touches box 0's corner.
_BOXES = [[0.0, 0.0, 0.5, 0.5], [0.0, 0.0, 0.5, 0.45], [0.5, 0.5, 1.0, 1.0]]


def _select(probabilities, multi_label, boxes=(_BOXES,), **kwargs):
  return detection_selection.select(
      tf.constant(boxes, tf.float32), tf.constant(probabilities, tf.float32),
      multi_label, max_detections=4, iou_threshold=0.5, **kwargs)


def test_multi_label_keeps_each_boxs_every_class_score():
  first = [[0.9, 0.1, 0.3], [0.8, 0.7, 0.1], [0.2, 0.4, 0.6]]
  # A second image whose boxes are all apart keeps all three.
  apart = [[0.0, 0.0, 0.2, 0.2], [0.4, 0.4, 0.6, 0.6], [0.8, 0.8, 1.0, 1.0]]
  selection = _select([first, first], True, boxes=(_BOXES, apart))
  detections = {k: v.numpy() for k, v in selection.detections.items()}
  # Box 1 (best score 0.8) is suppressed by box 0 (0.9); box 2 (0.6) stays.
  np.testing.assert_array_equal(detections[_D.num_detections], [2, 3])
  np.testing.assert_array_equal(selection.roi_indices[0, :2], [0, 2])
  np.testing.assert_array_equal(selection.valid[0], [True, True, False,
                                                     False])
  np.testing.assert_allclose(detections[_D.detection_boxes][0],
                             [_BOXES[0], _BOXES[2], [0] * 4, [0] * 4])
  np.testing.assert_allclose(detections[_D.detection_scores][0],
                             [0.9, 0.6, 0, 0], rtol=1e-6)
  np.testing.assert_array_equal(detections[_D.detection_classes][0],
                                [1, 3, 0, 0])
  np.testing.assert_array_equal(selection.class_indices[0, :2], [0, 2])
  np.testing.assert_allclose(detections[_D.detection_multiclass_scores][0],
                             [first[0], first[2], [0] * 3, [0] * 3],
                             rtol=1e-6)
  # Sorted by best class score: 0.9, 0.8, 0.6.
  np.testing.assert_array_equal(selection.roi_indices[1, :3], [0, 1, 2])
  np.testing.assert_array_equal(detections[_D.detection_classes][1],
                                [1, 1, 3, 0])


def test_single_label_runs_nms_per_class_over_box_class_pairs():
  probabilities = [[[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.3, 0.25, 0.4]]]
  selection = _select(probabilities, False)
  detections = {k: v.numpy() for k, v in selection.detections.items()}
  # Pairs by score: (box 0, class 0) 0.9, (1, 1) 0.8 (box 1 overlaps box 0
  # but for another class), (2, 2) 0.4, (2, 0) 0.3; (1, 0) would be
  # suppressed by (0, 0), and only four are kept.
  np.testing.assert_array_equal(selection.roi_indices[0], [0, 1, 2, 2])
  np.testing.assert_array_equal(selection.class_indices[0], [0, 1, 2, 0])
  np.testing.assert_array_equal(detections[_D.detection_classes][0],
                                [1, 2, 3, 1])
  np.testing.assert_allclose(detections[_D.detection_scores][0],
                             [0.9, 0.8, 0.4, 0.3], rtol=1e-6)
  np.testing.assert_allclose(
      detections[_D.detection_multiclass_scores][0],
      np.array(probabilities[0])[[0, 1, 2, 2]], rtol=1e-6)
  np.testing.assert_allclose(detections[_D.detection_boxes][0],
                             np.array(_BOXES)[[0, 1, 2, 2]])
  assert detections[_D.num_detections][0] == 4


def test_the_score_threshold_drops_candidates_and_pads_with_zeros():
  probabilities = [[[0.9, 0.1, 0.3], [0.8, 0.7, 0.1], [0.2, 0.4, 0.6]]]
  selection = _select(probabilities, True, score_threshold=0.65)
  detections = {k: v.numpy() for k, v in selection.detections.items()}
  assert detections[_D.num_detections][0] == 1
  np.testing.assert_array_equal(selection.valid[0], [True, False, False,
                                                     False])
  np.testing.assert_allclose(detections[_D.detection_scores][0],
                             [0.9, 0, 0, 0], rtol=1e-6)
  np.testing.assert_array_equal(detections[_D.detection_boxes][0, 1:], 0)
  np.testing.assert_array_equal(
      detections[_D.detection_multiclass_scores][0, 1:], 0)


def test_single_label_compiles_under_xla_with_the_same_result():
  probabilities = tf.constant(
      [[[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.3, 0.25, 0.4]]])
  boxes = tf.constant([_BOXES])

  @tf.function(jit_compile=True)
  def compiled(boxes, probabilities):
    selection = detection_selection.select(boxes, probabilities, False, 4,
                                           0.5)
    return selection.detections, selection.roi_indices

  detections, roi_indices = compiled(boxes, probabilities)
  plain = detection_selection.select(boxes, probabilities, False, 4, 0.5)
  np.testing.assert_array_equal(roi_indices, plain.roi_indices)
  for key, value in plain.detections.items():
    np.testing.assert_allclose(detections[key], value, rtol=1e-6)
