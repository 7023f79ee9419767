"""act_protocol: each convention of the ACT JHMDB evaluation code, by hand.

Every case is worked out by hand under the ACT code's rule and, beside it,
under the VOC protocol of `frame_ap` / `video_ap`, which gives another
number.
"""

import numpy as np
import pytest

from acrn_tf.core import standard_fields
from acrn_tf.evaluation import act_protocol
from acrn_tf.evaluation import frame_ap
from acrn_tf.evaluation import tube_linking
from acrn_tf.evaluation import video_ap

_INPUT = standard_fields.InputDataFields
_DETECTION = standard_fields.DetectionResultFields
Tube = tube_linking.Tube


def test_trapezoid_ap_over_raw_points_from_recall_0_precision_1():
  # T, F, T over 2 gt: points (P, R) = (1, 0) start, (1, 1/2), (1/2, 1/2),
  # (2/3, 1). Trapezoids: 1/2 * (1 + 1) / 2 + 0 + 1/2 * (1/2 + 2/3) / 2 =
  # 1/2 + 7/24 = 19/24. VOC's envelope: 1/2 * 1 + 1/2 * 2/3 = 5/6.
  points = act_protocol.precision_recall_points([True, False, True], 2)
  np.testing.assert_allclose(points, [[1, 0], [1, 0.5], [0.5, 0.5],
                                      [2 / 3, 1]], rtol=1e-7)
  assert points.dtype == np.float32  # as the ACT code stores them
  assert act_protocol.trapezoid_ap(points) == pytest.approx(19 / 24, abs=1e-7)
  # F then T over 1 gt: (1, 0), (0, 0), (1/2, 1): 1 * (0 + 1/2) / 2 = 1/4;
  # VOC: 1/2. No detections: the start point alone, AP 0.
  points = act_protocol.precision_recall_points([False, True], 1)
  assert act_protocol.trapezoid_ap(points) == 0.25
  assert act_protocol.trapezoid_ap(
      act_protocol.precision_recall_points([], 3)) == 0.0


def test_frame_ap_trapezoid_differs_from_voc():
  # One keyframe, 2 gt boxes; detections at 0.9 (on gt 1), 0.8 (far),
  # 0.7 (on gt 2): T, F, T -> ACT 19/24, VOC 5/6.
  gt = np.array([[0, 0, 99, 99], [0, 200, 99, 299]], np.float64)
  det = np.array([[0, 0, 99, 99], [150, 150, 200, 200], [0, 200, 99, 299]],
                 np.float64)
  results = []
  for evaluator in (
      act_protocol.ActFrameAPEvaluator({1: 'run'}, boxes_normalized=False),
      frame_ap.FrameAPEvaluator({1: 'run'})):
    evaluator.add_groundtruth('v,1', gt, [1, 1])
    evaluator.add_detections('v,1', det, [0.9, 0.8, 0.7], [1, 1, 1])
    results.append(evaluator.evaluate()['mean_ap'])
  assert results[0] == pytest.approx(19 / 24, abs=1e-7)
  assert results[1] == pytest.approx(5 / 6)


def test_inclusive_pixel_iou():
  # [ymin, xmin, ymax, xmax] = [0, 0, 9, 9] is 10 x 10 pixels; [0, 5, 9,
  # 14] too; they share columns 5..9: 5 x 10 = 50; IoU 50 / 150 = 1/3.
  # Exclusive (VOC): 9 x 9 each, 4 x 9 = 36 shared: 36 / 126 = 2/7.
  a = np.array([[0, 0, 9, 9]], np.float64)
  b = np.array([[0, 5, 9, 14]], np.float64)
  assert act_protocol.inclusive_pixel_iou(a, b)[0, 0] == pytest.approx(1 / 3)
  assert frame_ap.average_precision.iou(a, b)[0, 0] == pytest.approx(2 / 7)
  # Touching boxes share one pixel column: 10 / 190.
  c = np.array([[0, 9, 9, 18]], np.float64)
  assert act_protocol.inclusive_pixel_iou(a, c)[0, 0] == pytest.approx(
      10 / 190)
  assert act_protocol.inclusive_pixel_iou(a, np.zeros((0, 4))).shape == (1, 0)


def test_frame_ap_inclusive_iou_on_normalised_boxes_flips_a_match():
  # A 20 x 20 pixel gt [10, 10, 29, 29] and the same box shifted 6.5 px
  # right, in a 240 x 320 frame. Inclusive: 13.5 x 20 / (800 - 270) =
  # 270 / 530 = 0.509, a hit (AP 1). Exclusive: 12.5 / 25.5 = 0.490, a
  # miss (AP 0).
  size = np.array([240, 320, 240, 320], np.float64)
  gt = np.array([[10, 10, 29, 29]]) / size
  det = np.array([[10, 16.5, 29, 35.5]]) / size
  act = act_protocol.ActFrameAPEvaluator({1: 'run'}, image_size=(240, 320))
  voc = frame_ap.FrameAPEvaluator({1: 'run'})
  for evaluator in (act, voc):
    evaluator.add_groundtruth('v,1', gt, [1])
    evaluator.add_detections('v,1', det, [0.9], [1])
  assert act.evaluate()['mean_ap'] == 1.0
  assert voc.evaluate()['mean_ap'] == 0.0
  # A keyframe's own size wins over the default; none at all is an error.
  act = act_protocol.ActFrameAPEvaluator({1: 'run'})
  act.add_groundtruth('v,1', gt, [1], image_size=(240, 320))
  act.add_detections('v,1', det, [0.9], [1])
  assert act.evaluate()['mean_ap'] == 1.0
  act = act_protocol.ActFrameAPEvaluator({1: 'run'})
  act.add_groundtruth('v,1', gt, [1])
  act.add_detections('v,1', det, [0.9], [1])
  with pytest.raises(ValueError, match='frame_ap_act: normalised boxes need '
                     'the frame size'):
    act.evaluate()


def test_duplicate_takes_the_next_unmatched_box():
  # gt 1 columns 0..99, gt 2 columns 20..119 (rows 0..99). Two detections
  # equal to gt 1 (0.9, 0.8). The second overlaps gt 2 by 80 / 120 = 2/3.
  # ACT: it takes gt 2: T, T: AP 1. VOC: its best box, gt 1, is taken: a
  # false positive: AP 1/2.
  gt = np.array([[0, 0, 99, 99], [0, 20, 99, 119]], np.float64)
  det = np.array([[0, 0, 99, 99], [0, 0, 99, 99]], np.float64)
  act = act_protocol.ActFrameAPEvaluator({1: 'run'}, boxes_normalized=False)
  voc = frame_ap.FrameAPEvaluator({1: 'run'})
  for evaluator in (act, voc):
    evaluator.add_groundtruth('v,1', gt, [1, 1])
    evaluator.add_detections('v,1', det, [0.9, 0.8], [1, 1])
  assert act.evaluate()['mean_ap'] == 1.0
  assert voc.evaluate()['mean_ap'] == 0.5
  np.testing.assert_array_equal(
      act_protocol.match_unmatched(np.array([[1.0, 0.6], [1.0, 0.6],
                                             [1.0, 0.9]]), 0.5),
      [True, True, False])


def test_mean_over_all_labels():
  # Class 1 found (AP 1); class 2 has neither gt nor detections. ACT: mean
  # of 1 and 0 = 1/2. VOC: class 2 is left out: 1.
  categories = {1: 'run', 2: 'jump'}
  gt = np.array([[0, 0, 99, 99]], np.float64)
  act = act_protocol.ActFrameAPEvaluator(categories, boxes_normalized=False)
  voc = frame_ap.FrameAPEvaluator(categories)
  for evaluator in (act, voc):
    evaluator.add_groundtruth('v,1', gt, [1])
    evaluator.add_detections('v,1', gt, [0.9], [1])
  metrics = act.evaluate()
  assert metrics['mean_ap'] == 0.5
  assert [c['ap_by_iou']['0.5'] for c in metrics['classes']] == [1.0, 0.0]
  assert metrics['protocol'] == act_protocol.PROTOCOL
  assert metrics['metric'] == 'frame_ap_act'
  assert voc.evaluate()['mean_ap'] == 1.0


def test_frame_sizes_from_the_eval_dict():
  # The 6.5-pixel shift of the flip test, through an eval dict whose
  # original_frame_shape gives the size.
  size = np.array([240, 320, 240, 320], np.float64)
  batch = {
      _INPUT.video_id: np.array([b'v']),
      _INPUT.keyframe_timestamp: np.array([1.0]),
      _INPUT.groundtruth_boxes: (np.array([[10, 10, 29, 29]]) / size)[None],
      _INPUT.groundtruth_classes: np.array([[[1]]]),
      _INPUT.num_groundtruth_boxes: np.array([1]),
      _INPUT.original_frame_shape: np.array([[240, 320]]),
      _DETECTION.detection_boxes: (np.array([[10, 16.5, 29, 35.5]]) /
                                   size)[None],
      _DETECTION.detection_multiclass_scores: np.array([[[0.9]]]),
      _DETECTION.num_detections: np.array([1]),
  }
  act = act_protocol.ActFrameAPEvaluator({1: 'run'})
  act.add_eval_dict(batch)
  assert act.evaluate()['mean_ap'] == 1.0


BOX_1 = [0, 0, 99, 99]
BOX_2 = [200, 200, 299, 299]


def test_spatiotemporal_iou_with_inclusive_pixels():
  # Frames 0..3 and 2..5: temporal IoU 2 / 6; per-frame IoU 1/3 (the
  # inclusive case above): 1/9. VOC's (exclusive) box IoU: 2/7 / 3 = 2/21.
  tube1 = Tube(1, range(4), [[0, 0, 9, 9]] * 4)
  tube2 = Tube(1, range(2, 6), [[0, 5, 9, 14]] * 4)
  assert act_protocol.spatiotemporal_iou(tube1, tube2) == pytest.approx(1 / 9)
  assert video_ap.spatiotemporal_iou(tube1, tube2) == pytest.approx(2 / 21)


def _video_case():
  """gt G1 (BOX_1) and G2 (BOX_2), frames 0..9; three detected tubes."""
  groundtruth = [Tube(1, range(10), [BOX_1] * 10),
                 Tube(1, range(10), [BOX_2] * 10)]
  detections = [
      Tube(1, range(10), [BOX_1] * 10, score=0.9),  # on G1
      # G1's first 4 frames: ST-IoU 0.4 with the first tube and G1.
      Tube(1, range(4), [BOX_1] * 4, score=0.8),
      Tube(1, range(10), [BOX_2] * 10, score=0.7),  # on G2
  ]
  return groundtruth, detections


def test_tube_nms_before_video_ap():
  groundtruth, detections = _video_case()
  # NMS at 0.3: the 0.8 tube overlaps the 0.9 one by 0.4: dropped.
  assert act_protocol.tube_nms(detections) == [0, 2]
  # ACT: T, T over 2 gt: AP 1. VOC (no NMS): T, F, T: 1/2 + 1/2 * 2/3 =
  # 5/6.
  act = act_protocol.ActVideoAPEvaluator({1: 'run'}, boxes_normalized=False)
  voc = video_ap.VideoAPEvaluator({1: 'run'})
  for evaluator in (act, voc):
    evaluator.add_groundtruth('v', groundtruth)
    evaluator.add_detections('v', detections)
  metrics = act.evaluate()
  assert metrics['mean_ap'] == 1.0
  assert metrics['metric'] == 'video_ap_act'
  assert metrics['protocol'] == act_protocol.PROTOCOL
  assert voc.evaluate()['mean_ap'] == pytest.approx(5 / 6)
  # Ties: ACT's ascending sort keeps the later of equal scores first.
  tied = [Tube(1, range(3), [BOX_1] * 3, score=0.5),
          Tube(1, range(3), [BOX_1] * 3, score=0.5)]
  assert act_protocol.tube_nms(tied) == [1]


def test_video_ap_050_095_averages_thresholds_0_5_plus_0_05_i():
  # One-frame tubes: the detection covers columns 0..84 of the gt's 0..99:
  # ST-IoU 8500 / 10000 = 0.85. It is a hit at 0.5, 0.55, ..., 0.8, and a
  # miss at 0.5 + 0.05 * 7 = 0.8500000000000001 (and above): 7 of 10 -> 0.7
  # (a literal 0.85 would make it 0.8).
  assert act_protocol.VIDEO_THRESHOLDS_050_095[7] > 0.85
  act = act_protocol.ActVideoAPEvaluator({1: 'run'}, boxes_normalized=False)
  act.add_groundtruth('v', [Tube(1, [0], [BOX_1])])
  act.add_detections('v', [Tube(1, [0], [[0, 0, 99, 84]], score=0.9)])
  metrics = act.evaluate()
  assert metrics['mean_ap_by_iou_0.5:0.95'] == [1.0] * 7 + [0.0] * 3
  assert metrics[act_protocol.MEAN_AP_050_095] == pytest.approx(0.7)
  assert metrics['mean_ap_by_iou'] == {'0.2': 1.0, '0.5': 1.0, '0.75': 1.0}


def test_video_ap_needs_the_frame_size_for_normalised_tubes():
  act = act_protocol.ActVideoAPEvaluator({1: 'run'})
  act.add_groundtruth('v', [Tube(1, [0], [[0, 0, 0.5, 0.5]])])
  act.add_detections('v', [Tube(1, [0], [[0, 0, 0.5, 0.5]], score=0.9)])
  with pytest.raises(ValueError, match='normalised boxes of v need the '
                     'frame size'):
    act.evaluate()
  act = act_protocol.ActVideoAPEvaluator({1: 'run'}, image_size=(240, 320))
  act.add_groundtruth('v', [Tube(1, [0], [[0, 0, 0.5, 0.5]])])
  act.add_detections('v', [Tube(1, [0], [[0, 0, 0.5, 0.5]], score=0.9)])
  assert act.evaluate()['mean_ap'] == 1.0
