"""average_precision: IoU, VOC matching, precision/recall and AP by hand."""

import math

import numpy as np
import pytest

from acrn_tf.evaluation import average_precision as ap_lib


def test_iou_hand_values():
  boxes1 = np.array([[0.0, 0.0, 1.0, 1.0]])
  boxes2 = np.array([
      [0.0, 0.0, 1.0, 1.0],  # identical: 1
      [2.0, 2.0, 3.0, 3.0],  # disjoint: 0
      [0.0, 0.5, 1.0, 1.5],  # inter 0.5, union 1 + 1 - 0.5 = 1.5: 1/3
      [0.0, 0.0, 0.5, 0.5],  # inside: 0.25 / 1
  ])
  np.testing.assert_allclose(ap_lib.iou(boxes1, boxes2),
                             [[1.0, 0.0, 1.0 / 3.0, 0.25]])
  assert ap_lib.iou(boxes1, boxes2).shape == (1, 4)
  # Two degenerate boxes: empty union gives 0, not nan.
  point = np.array([[0.5, 0.5, 0.5, 0.5]])
  assert ap_lib.iou(point, point)[0, 0] == 0.0
  assert ap_lib.iou(np.zeros((0, 4)), boxes2).shape == (0, 4)


def test_valid_box_mask():
  boxes = [[0, 0, 1, 1], [0.5, 0, 0.5, 1], [0, 0.7, 1, 0.2]]
  assert ap_lib.valid_box_mask(boxes).tolist() == [True, False, False]


def test_match_greedy_voc_rule():
  # Rows are ranked detections, columns ground-truth boxes A and B.
  iou = np.array([
      [0.9, 0.6],  # takes A: true positive
      [0.8, 0.7],  # its best gt A is taken: false positive although B is
                   # free at 0.7 (the VOC rule; B is not its best match)
      [0.1, 0.55],  # takes B
      [0.0, 0.4],  # below 0.5: false positive
  ])
  assert ap_lib.match_greedy(iou, 0.5).tolist() == [True, False, True, False]
  # At 0.6 the third detection misses B.
  assert ap_lib.match_greedy(iou, 0.6).tolist() == [True, False, False,
                                                    False]
  # IoU exactly at the threshold is a match (>=).
  assert ap_lib.match_greedy(np.array([[0.5]]), 0.5).tolist() == [True]
  assert ap_lib.match_greedy(np.zeros((2, 0)), 0.5).tolist() == [False, False]


def test_precision_recall_ranks_by_score():
  # Given out of order; ranked: 0.9 (F), 0.8 (T), 0.7 (T); 2 gt.
  precision, recall = ap_lib.precision_recall(
      np.array([0.7, 0.9, 0.8]), np.array([True, False, True]), 2)
  np.testing.assert_allclose(precision, [0.0, 1 / 2, 2 / 3])
  np.testing.assert_allclose(recall, [0.0, 0.5, 1.0])


@pytest.mark.parametrize('flags, num_gt, expected', [
    # Perfect: P=1 up to R=1.
    ([True, True], 2, 1.0),
    # One of two gt found: P=1 up to R=1/2: AP 1/2.
    ([True], 2, 0.5),
    # A false positive ranked first, then two hits: P = 0, 1/2, 2/3 at
    # R = 0, 1/2, 1. Interpolation lifts P(R=1/2) to the best precision at
    # R >= 1/2, 2/3: AP = 1/2 * 2/3 + 1/2 * 2/3 = 2/3 (not the
    # uninterpolated (1/2 + 2/3) / 2 = 7/12).
    ([False, True, True], 2, 2 / 3),
    # Hit, miss, hit: P = 1, 1/2, 2/3 at R = 1/2, 1/2, 1:
    # AP = 1/2 * 1 + 1/2 * 2/3 = 5/6.
    ([True, False, True], 2, 5 / 6),
    # Hit, miss, miss, hit with 3 gt: P = 1, 1/2, 1/3, 1/2 at
    # R = 1/3, 1/3, 1/3, 2/3: AP = 1/3 * 1 + 1/3 * 1/2 = 1/2.
    ([True, False, False, True], 3, 0.5),
])
def test_average_precision_hand_cases(flags, num_gt, expected):
  scores = np.linspace(1.0, 0.1, len(flags))
  precision, recall = ap_lib.precision_recall(scores, np.array(flags), num_gt)
  assert ap_lib.average_precision(precision, recall) == pytest.approx(
      expected)


def test_average_precision_edge_cases_and_errors():
  assert ap_lib.average_precision(np.zeros(0), np.zeros(0)) == 0.0
  with pytest.raises(ValueError, match='non-decreasing'):
    ap_lib.average_precision(np.array([1.0, 1.0]), np.array([0.5, 0.2]))
  with pytest.raises(ValueError, match='same length'):
    ap_lib.average_precision(np.array([1.0]), np.array([0.5, 1.0]))
  with pytest.raises(ValueError, match='exceed'):
    ap_lib.precision_recall(np.ones(3), np.ones(3, dtype=bool), 2)
  with pytest.raises(ValueError, match='num_groundtruth'):
    ap_lib.precision_recall(np.ones(1), np.ones(1, dtype=bool), 0)


def test_build_metrics_means_over_classes_with_groundtruth():
  categories = {1: 'a', 2: 'b', 3: 'c'}
  scores = {1: np.array([0.9]), 3: np.array([0.5])}
  flags = {0.5: {1: np.array([True]), 3: np.array([False])}}
  # Class 1: 1 of 2 found: AP 1/2. Class 2: gt, no detections: AP 0.
  # Class 3: detections but no gt: AP nan, left out of the mean.
  metrics = ap_lib.build_metrics('frame_ap', categories, [0.5], scores, flags,
                                 {1: 2, 2: 1})
  aps = [c['ap_by_iou']['0.5'] for c in metrics['classes']]
  assert aps[:2] == [0.5, 0.0]
  assert math.isnan(aps[2])
  assert metrics['mean_ap'] == pytest.approx(0.25)
  assert metrics['mean_ap_by_iou'] == {'0.5': pytest.approx(0.25)}
  assert [c['num_detections'] for c in metrics['classes']] == [1, 0, 1]
  assert sorted(metrics['pr_curves']['0.5']) == [1, 2]


def test_check_iou_thresholds():
  assert ap_lib.check_iou_thresholds((0.5, 0.75)) == [0.5, 0.75]
  with pytest.raises(ValueError, match='not in'):
    ap_lib.check_iou_thresholds([1.5])
  with pytest.raises(ValueError, match='at least one'):
    ap_lib.check_iou_thresholds([])
