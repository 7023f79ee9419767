"""video_ap: ST-IoU and video-AP on hand-made tubes; the tubes JSON."""

import json
import os

import numpy as np
import pytest

from acrn_tf.evaluation import tube_linking
from acrn_tf.evaluation import video_ap

Tube = tube_linking.Tube
FULL = [0.0, 0.0, 1.0, 1.0]


def _tube(frames, box, score=None, label_id=1):
  frames = list(frames)
  return Tube(label_id, frames, [box] * len(frames),
              None if score is None else [score] * len(frames))


def test_temporal_and_spatiotemporal_iou_with_a_gap():
  gt = _tube(range(0, 10), FULL)
  # Frames 5..14 without frame 7, same box as the gt.
  pred = _tube([5, 6, 8, 9, 10, 11, 12, 13, 14], FULL, 0.9)
  # Extents [0, 9] and [5, 14]: 5 common frames of 15: temporal IoU 1/3.
  assert video_ap.temporal_iou(gt, pred) == pytest.approx(1 / 3)
  # Over the common frames 5..9 the per-frame IoUs are 1, 1, 0 (frame 7:
  # the prediction has no box), 1, 1: mean 4/5. ST-IoU = 1/3 * 4/5 = 4/15.
  assert video_ap.spatiotemporal_iou(gt, pred) == pytest.approx(4 / 15)
  assert video_ap.spatiotemporal_iou(pred, gt) == pytest.approx(4 / 15)
  # Disjoint in time: 0.
  assert video_ap.spatiotemporal_iou(gt, _tube(range(10, 12), FULL)) == 0.0
  # Same frames, box IoU 0.6 on each: ST-IoU 0.6.
  assert video_ap.spatiotemporal_iou(
      gt, _tube(range(10), [0.0, 0.0, 1.0, 0.6])) == pytest.approx(0.6)


def test_video_ap_at_02_05_075():
  evaluator = video_ap.VideoAPEvaluator({1: 'pour', 2: 'wave'})
  # v1: the gapped tube above, ST-IoU 4/15 ~ 0.27, score 0.9.
  evaluator.add_groundtruth('v1', [_tube(range(10), FULL)])
  evaluator.add_detections(
      'v1', [_tube([5, 6, 8, 9, 10, 11, 12, 13, 14], FULL, 0.9)])
  # v2: ST-IoU 0.6, score 0.8.
  evaluator.add_groundtruth('v2', [_tube(range(10), FULL)])
  evaluator.add_detections('v2', [_tube(range(10), [0, 0, 1, 0.6], 0.8)])
  metrics = evaluator.evaluate()
  # IoU 0.2: T, T: AP 1. IoU 0.5: F, T: P = 0, 1/2 at R = 0, 1/2: AP 1/4.
  # IoU 0.75: F, F: AP 0. Class 'wave' has no gt: left out.
  assert metrics['mean_ap_by_iou'] == {
      '0.2': 1.0, '0.5': pytest.approx(0.25), '0.75': 0.0}
  assert metrics['mean_ap'] == pytest.approx(0.25)  # headline at 0.5
  assert metrics['mean_ap_over_thresholds'] == pytest.approx(1.25 / 3)
  assert metrics['metric'] == 'video_ap'
  assert metrics['num_videos'] == 2
  assert np.isnan(metrics['classes'][1]['ap_by_iou']['0.5'])


def test_each_groundtruth_tube_matches_once():
  evaluator = video_ap.VideoAPEvaluator({1: 'pour'}, iou_thresholds=(0.5,))
  # v1: gt C detected twice (0.9, 0.8); v2: gt D detected at 0.7.
  # T, F (duplicate), T over 2 gt: P = 1, 1/2, 2/3 at R = 1/2, 1/2, 1:
  # AP = 1/2 + 1/2 * 2/3 = 5/6.
  evaluator.add_groundtruth('v1', [_tube(range(5), FULL)])
  evaluator.add_groundtruth('v2', [_tube(range(5), FULL)])
  evaluator.add_detections('v1', [_tube(range(5), FULL, 0.9),
                                  _tube(range(5), FULL, 0.8)])
  evaluator.add_detections('v2', [_tube(range(5), FULL, 0.7)])
  assert evaluator.evaluate()['mean_ap'] == pytest.approx(5 / 6)


def test_best_unmatched_groundtruth_is_taken():
  # gt A = FULL and B = [0, 0, 1, 0.6] in one video. p1 = A (0.9) takes A.
  # p2 = [0, 0, 1, 0.9] overlaps A 0.9 (taken) and B 0.6 / 0.9 = 2/3:
  # it takes B (the VOC rule of frame-AP would call it a false positive).
  evaluator = video_ap.VideoAPEvaluator({1: 'pour'}, iou_thresholds=(0.5,))
  evaluator.add_groundtruth('v1', [_tube(range(5), FULL),
                                   _tube(range(5), [0, 0, 1, 0.6])])
  evaluator.add_detections('v1', [_tube(range(5), FULL, 0.9),
                                  _tube(range(5), [0, 0, 1, 0.9], 0.8)])
  assert evaluator.evaluate()['mean_ap'] == 1.0
  # A prediction of another class or video never matches.
  evaluator.reset()
  evaluator.add_groundtruth('v1', [_tube(range(5), FULL)])
  evaluator.add_detections('v2', [_tube(range(5), FULL, 0.9)])
  assert evaluator.evaluate()['mean_ap'] == 0.0


def test_evaluator_errors():
  evaluator = video_ap.VideoAPEvaluator({1: 'pour'})
  with pytest.raises(ValueError, match=r'detections of v1\[0\]: label id 3'):
    evaluator.add_detections('v1', [_tube(range(2), FULL, label_id=3)])
  with pytest.raises(ValueError, match='primary_iou_threshold'):
    video_ap.VideoAPEvaluator({1: 'pour'}, (0.3,), primary_iou_threshold=0.5)


def test_tubes_json_round_trip_and_errors(tmp_path):
  path = os.path.join(str(tmp_path), 'tubes.json')
  tubes = {'v1': [Tube(2, [3, 4], [[0.1, 0.2, 0.3, 0.4], FULL], [0.5, 0.7])],
           'v2': [_tube([0], FULL, 0.9)]}
  video_ap.write_tubes_json(path, tubes)
  read = video_ap.read_tubes_json(path)
  assert sorted(read) == ['v1', 'v2']
  (tube,) = read['v1']
  assert tube.label_id == 2
  assert tube.frame_indices.tolist() == [3, 4]
  np.testing.assert_allclose(tube.boxes, [[0.1, 0.2, 0.3, 0.4], FULL])
  assert tube.score == pytest.approx(0.6)
  with open(path, 'w') as f:
    json.dump({'tubes': [{'video_id': 'v', 'label_id': 1,
                          'frame_indices': [0, 1], 'boxes': [FULL]}]}, f)
  with pytest.raises(ValueError, match=r'tubes.json: tubes\[0\]: .*2 frames'):
    video_ap.read_tubes_json(path)
  with open(path, 'w') as f:
    json.dump({'tubes': [{'video_id': 'v'}]}, f)
  with pytest.raises(ValueError, match=r"tubes\[0\]: missing \['label_id'"):
    video_ap.read_tubes_json(path)
