"""frame_ap: FrameAPEvaluator on hand-made keyframes, AP worked out by hand."""

import math

import numpy as np
import pytest

from acrn_tf.core import standard_fields
from acrn_tf.evaluation import frame_ap

_INPUT = standard_fields.InputDataFields
_DETECTION = standard_fields.DetectionResultFields

BOX_A = [0.0, 0.0, 0.4, 0.4]
BOX_B = [0.5, 0.5, 0.9, 0.9]
FAR = [0.0, 0.6, 0.2, 0.8]  # IoU 0 with A and B


def _ap(metrics, class_id, threshold='0.5'):
  entry = next(c for c in metrics['classes'] if c['id'] == class_id)
  return entry['ap_by_iou'][threshold]


def _single(evaluator, key, boxes, scores, classes):
  evaluator.add_detections(key, np.array(boxes), np.array(scores),
                           np.array(classes))


def test_perfect_detections_score_one():
  evaluator = frame_ap.FrameAPEvaluator({1: 'run', 2: 'sit'})
  evaluator.add_groundtruth('k1', [BOX_A, BOX_B], [[1], [2]])
  _single(evaluator, 'k1', [BOX_A, BOX_B], [0.9, 0.8], [1, 2])
  metrics = evaluator.evaluate()
  assert metrics['mean_ap'] == 1.0
  assert metrics['metric'] == 'frame_ap'
  assert [(c['id'], c['name']) for c in metrics['classes']] == [(1, 'run'),
                                                                (2, 'sit')]
  assert metrics['num_keyframes'] == 1


def test_missed_box_halves_ap():
  # 2 gt, 1 found at rank 1: P=1 at R=1/2, then nothing: AP = 1/2.
  evaluator = frame_ap.FrameAPEvaluator({1: 'run'})
  evaluator.add_groundtruth('k1', [BOX_A, BOX_B], [1, 1])
  _single(evaluator, 'k1', [BOX_A], [0.9], [1])
  metrics = evaluator.evaluate()
  assert metrics['mean_ap'] == pytest.approx(0.5)
  np.testing.assert_allclose(metrics['pr_curves']['0.5'][1]['recall'], [0.5])


def test_duplicate_detection_is_a_false_positive():
  # k1: gt A, detected twice (0.9, 0.8); k2: gt B detected at 0.7.
  # Ranked T (0.9), F (0.8, duplicate), T (0.7): P = 1, 1/2, 2/3 at
  # R = 1/2, 1/2, 1: AP = 1/2 * 1 + 1/2 * 2/3 = 5/6.
  evaluator = frame_ap.FrameAPEvaluator({1: 'run'})
  evaluator.add_groundtruth('k1', [BOX_A], [1])
  evaluator.add_groundtruth('k2', [BOX_B], [1])
  _single(evaluator, 'k1', [BOX_A, BOX_A], [0.9, 0.8], [1, 1])
  _single(evaluator, 'k2', [BOX_B], [0.7], [1])
  assert evaluator.evaluate()['mean_ap'] == pytest.approx(5 / 6)


def test_false_positive_ranked_first():
  # F (0.95, far box), T (0.9), T (0.8) over 2 gt: P = 0, 1/2, 2/3 at
  # R = 0, 1/2, 1; interpolated P at R=1/2 is 2/3: AP = 2/3.
  evaluator = frame_ap.FrameAPEvaluator({1: 'run'})
  evaluator.add_groundtruth('k1', [BOX_A], [1])
  evaluator.add_groundtruth('k2', [BOX_B], [1])
  _single(evaluator, 'k1', [FAR, BOX_A], [0.95, 0.9], [1, 1])
  _single(evaluator, 'k2', [BOX_B], [0.8], [1])
  assert evaluator.evaluate()['mean_ap'] == pytest.approx(2 / 3)


def test_detections_on_keyframe_without_groundtruth_are_false_positives():
  # k2 has no gt: its 0.95 detection is a false positive ranked first.
  evaluator = frame_ap.FrameAPEvaluator({1: 'run'})
  evaluator.add_groundtruth('k1', [BOX_A], [1])
  _single(evaluator, 'k2', [BOX_A], [0.95], [1])
  _single(evaluator, 'k1', [BOX_A], [0.9], [1])
  # P = 0, 1/2 at R = 0, 1: AP = 1/2.
  assert evaluator.evaluate()['mean_ap'] == pytest.approx(0.5)


def test_multi_label_boxes_score_per_class():
  categories = {1: 'talk', 2: 'listen', 3: 'walk'}
  evaluator = frame_ap.FrameAPEvaluator(categories)
  # Box A is talk and listen (multi-hot row), box B walks.
  evaluator.add_groundtruth('k1', [BOX_A, BOX_B],
                            np.array([[1, 1, 0], [0, 0, 1]]))
  # One score per class for each box. Per class the ranking is:
  # talk: A 0.9 (T), B 0.2 (F): AP 1.
  # listen: B 0.6 (F), A 0.5 (T): P = 0, 1/2 at R = 0, 1: AP 1/2.
  # walk: B 0.7 (T), A 0.1 (F): AP 1.
  evaluator.add_detections('k1', [BOX_A, BOX_B],
                           np.array([[0.9, 0.5, 0.1], [0.2, 0.6, 0.7]]))
  metrics = evaluator.evaluate()
  assert [_ap(metrics, i) for i in (1, 2, 3)] == pytest.approx([1, 0.5, 1])
  assert metrics['mean_ap'] == pytest.approx(2.5 / 3)
  assert [c['num_groundtruth'] for c in metrics['classes']] == [1, 1, 1]
  assert [c['num_detections'] for c in metrics['classes']] == [2, 2, 2]
  # The same gt as label lists gives the same result.
  lists = frame_ap.FrameAPEvaluator(categories)
  lists.add_groundtruth('k1', [BOX_A, BOX_B], [[1, 2], [3]])
  lists.add_detections('k1', [BOX_A, BOX_B],
                       np.array([[0.9, 0.5, 0.1], [0.2, 0.6, 0.7]]))
  assert lists.evaluate()['mean_ap'] == pytest.approx(metrics['mean_ap'])


def test_class_without_groundtruth_is_not_averaged():
  evaluator = frame_ap.FrameAPEvaluator({1: 'run', 2: 'sit', 3: 'jump'})
  evaluator.add_groundtruth('k1', [BOX_A, BOX_B], [[1], [2]])
  # run found (AP 1), sit missed (AP 0), jump has detections but no gt.
  _single(evaluator, 'k1', [BOX_A, BOX_B], [0.9, 0.9], [1, 3])
  metrics = evaluator.evaluate()
  assert _ap(metrics, 1) == 1.0
  assert _ap(metrics, 2) == 0.0
  assert math.isnan(_ap(metrics, 3))
  assert metrics['mean_ap'] == pytest.approx(0.5)


@pytest.mark.parametrize('xmax, expected_ap', [
    # gt [0, 0, 1, 1] (area 1) against [0, 0, 1, xmax] (area xmax, inside):
    # IoU = xmax. 0.49 misses; exactly 0.5 and 0.51 match.
    (0.49, 0.0), (0.5, 1.0), (0.51, 1.0)])
def test_iou_just_below_and_above_half(xmax, expected_ap):
  evaluator = frame_ap.FrameAPEvaluator({1: 'run'})
  evaluator.add_groundtruth('k1', [[0.0, 0.0, 1.0, 1.0]], [1])
  _single(evaluator, 'k1', [[0.0, 0.0, 1.0, xmax]], [0.9], [1])
  assert evaluator.evaluate()['mean_ap'] == expected_ap


def test_several_iou_thresholds():
  # IoU 0.6: a hit at 0.5, a miss at 0.75.
  evaluator = frame_ap.FrameAPEvaluator({1: 'run'}, iou_thresholds=(0.5, 0.75))
  evaluator.add_groundtruth('k1', [[0.0, 0.0, 1.0, 1.0]], [1])
  _single(evaluator, 'k1', [[0.0, 0.0, 1.0, 0.6]], [0.9], [1])
  metrics = evaluator.evaluate()
  assert metrics['mean_ap_by_iou'] == {'0.5': 1.0, '0.75': 0.0}
  assert metrics['mean_ap'] == 1.0  # the first threshold


def test_degenerate_detection_is_dropped_not_counted():
  # A zero-width box ranked first would be a false positive; it is dropped.
  evaluator = frame_ap.FrameAPEvaluator({1: 'run'})
  evaluator.add_groundtruth('k1', [BOX_A], [1])
  _single(evaluator, 'k1', [[0.1, 0.2, 0.3, 0.2], BOX_A], [0.99, 0.5], [1, 1])
  metrics = evaluator.evaluate()
  assert metrics['mean_ap'] == 1.0
  assert metrics['classes'][0]['num_detections'] == 1


def test_max_detections_per_keyframe_keeps_top_entries():
  # Three (box, class) entries; the top 2 are far boxes: with a cap of 2 the
  # hit (0.5) is cut and AP is 0; without it, P = 1/3 at R = 1: AP 1/3.
  boxes = np.array([FAR, FAR, BOX_A])
  scores = np.array([0.9, 0.8, 0.5])
  for cap, expected in ((2, 0.0), (None, 1 / 3)):
    evaluator = frame_ap.FrameAPEvaluator(
        {1: 'run'}, max_detections_per_keyframe=cap)
    evaluator.add_groundtruth('k1', [BOX_A], [1])
    _single(evaluator, 'k1', boxes, scores, [1, 1, 1])
    assert evaluator.evaluate()['mean_ap'] == pytest.approx(expected)


def test_reset_and_duplicate_keys():
  evaluator = frame_ap.FrameAPEvaluator({1: 'run'})
  evaluator.add_groundtruth('k1', [BOX_A], [1])
  evaluator.add_groundtruth('k1', [BOX_A, BOX_B], [1, 1])  # ignored
  _single(evaluator, 'k1', [BOX_A], [0.9], [1])
  _single(evaluator, 'k1', [FAR], [0.95], [1])  # ignored
  assert evaluator.evaluate()['mean_ap'] == 1.0
  evaluator.reset()
  evaluator.add_groundtruth('k1', [BOX_A], [1])
  assert evaluator.evaluate()['mean_ap'] == 0.0


def _eval_dict(multiclass):
  # Batch of 2 keyframes, padded to 3 gt and 3 detections; classes 1, 2.
  eval_dict = {
      _INPUT.video_id: np.array([b'vid', b'vid']),
      _INPUT.keyframe_timestamp: np.array([1.0, 2.0], np.float32),
      _INPUT.groundtruth_boxes: np.array([
          [BOX_A, BOX_B, [0, 0, 0, 0]],
          [BOX_B, [0, 0, 0, 0], [0, 0, 0, 0]]], np.float32),
      _INPUT.groundtruth_classes: np.array([
          [[1, 0], [1, 1], [0, 0]],
          [[0, 1], [0, 0], [0, 0]]], np.float32),
      _INPUT.groundtruth_valid: np.array([[True, True, False],
                                          [True, False, False]]),
      _DETECTION.detection_boxes: np.array([
          [BOX_A, BOX_B, FAR], [BOX_B, FAR, FAR]], np.float32),
      _DETECTION.num_detections: np.array([2, 1], np.float32),
  }
  if multiclass:
    eval_dict[_DETECTION.detection_multiclass_scores] = np.array([
        [[0.9, 0.1], [0.8, 0.7], [0.99, 0.99]],
        [[0.3, 0.6], [0.99, 0.99], [0.99, 0.99]]], np.float32)
  else:
    eval_dict[_DETECTION.detection_classes] = np.array(
        [[1, 2, 1], [2, 1, 1]], np.float32)
    eval_dict[_DETECTION.detection_scores] = np.array(
        [[0.9, 0.7, 0.99], [0.6, 0.99, 0.99]], np.float32)
  return eval_dict


def test_add_eval_dict_multiclass_scores():
  evaluator = frame_ap.FrameAPEvaluator({1: 'a', 2: 'b'})
  evaluator.add_eval_dict(_eval_dict(multiclass=True))
  metrics = evaluator.evaluate()
  # Padding (the 0.99 rows beyond num_detections and the invalid gt rows)
  # is ignored. Class 1: gt A (k1), B (k1); dets A 0.9 T, B 0.8 T,
  # B@k2 0.3 F: AP 1. Class 2: gt B (k1), B (k2); dets B@k1 0.7 T,
  # B@k2 0.6 T, A 0.1 F: AP 1.
  assert metrics['mean_ap'] == 1.0
  assert [c['num_groundtruth'] for c in metrics['classes']] == [2, 2]
  assert [c['num_detections'] for c in metrics['classes']] == [3, 3]
  assert metrics['num_keyframes'] == 2


def test_add_eval_dict_top_class_only():
  evaluator = frame_ap.FrameAPEvaluator({1: 'a', 2: 'b'})
  eval_dict = _eval_dict(multiclass=False)
  del eval_dict[_INPUT.groundtruth_valid]
  eval_dict[_INPUT.num_groundtruth_boxes] = np.array([2, 1])
  evaluator.add_eval_dict(eval_dict)
  metrics = evaluator.evaluate()
  # Class 1: A 0.9 T; gt B@k1 missed: AP 1/2. Class 2: B@k1 0.7 T,
  # B@k2 0.6 T: AP 1.
  assert _ap(metrics, 1) == pytest.approx(0.5)
  assert _ap(metrics, 2) == 1.0


def test_bad_inputs_name_the_field():
  evaluator = frame_ap.FrameAPEvaluator({1: 'a', 2: 'b'})
  with pytest.raises(ValueError, match=r'ground truth of k1: multi-hot.*'
                     r'\[1, 2\]'):
    evaluator.add_groundtruth('k1', [BOX_A], np.array([[1, 0, 0]]))
  with pytest.raises(ValueError, match=r'label ids \[7\]'):
    evaluator.add_groundtruth('k2', [BOX_A], [[1, 7]])
  with pytest.raises(ValueError, match='detections of k3: scores have shape'):
    evaluator.add_detections('k3', [BOX_A], np.array([[0.1, 0.2, 0.3]]))
  with pytest.raises(ValueError, match=r'boxes have shape \(1, 3\)'):
    evaluator.add_detections('k4', [[0, 0, 1]], np.array([[0.1, 0.2]]))
  eval_dict = _eval_dict(multiclass=True)
  del eval_dict[_DETECTION.detection_boxes]
  with pytest.raises(ValueError, match="missing 'detection_boxes'"):
    evaluator.add_eval_dict(eval_dict)
  with pytest.raises(ValueError, match='ids start at 1'):
    frame_ap.FrameAPEvaluator({0: 'background'})
