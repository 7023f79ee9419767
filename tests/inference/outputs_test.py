"""outputs: csv rows of keyframe detections and tubes as JSON."""

import json
import os

import numpy as np
import pytest

from acrn_tf.core import standard_fields
from acrn_tf.evaluation import ava_csv
from acrn_tf.inference import outputs

_det = standard_fields.DetectionResultFields
LABELS = {1: 'catch', 4: 'throw'}


def _detections(boxes, multiclass):
  multiclass = np.asarray(multiclass, np.float32)
  top = np.argmax(multiclass, axis=1)
  return {
      _det.detection_boxes: np.asarray(boxes, np.float32),
      _det.detection_scores: multiclass[np.arange(len(top)), top],
      _det.detection_classes: np.array([sorted(LABELS)[c] for c in top]),
      _det.detection_multiclass_scores: multiclass,
  }


def test_keyframe_csv_rows_by_hand():
  detections = _detections([[0.1, 0.2, 0.5, 0.6], [0.3, 0.1, 0.9, 0.4]],
                           [[0.9, 0.25], [0.5, 0.75]])
  rows = outputs.keyframe_csv_rows('vid', 2.0, detections, (1, 4))
  # x1, y1, x2, y2; every (box, class) pair by descending score.
  assert rows == ['vid,0002,0.200,0.100,0.600,0.500,1,0.899999976',
                  'vid,0002,0.100,0.300,0.400,0.900,4,0.75',
                  'vid,0002,0.100,0.300,0.400,0.900,1,0.5',
                  'vid,0002,0.200,0.100,0.600,0.500,4,0.25']
  assert len(outputs.keyframe_csv_rows('vid', 0.4, detections, (1, 4),
                                       max_rows=3)) == 3
  assert outputs.keyframe_csv_rows('vid', 0.4, detections, (1, 4)
                                   )[0].startswith('vid,0000.400,')


def test_rows_from_top_class_when_no_multiclass_scores():
  detections = {_det.detection_boxes: np.array([[0.1, 0.2, 0.5, 0.6]]),
                _det.detection_scores: np.array([0.8]),
                _det.detection_classes: np.array([4])}
  assert outputs.keyframe_csv_rows('v', 1.0, detections, (1, 4)) == [
      'v,0001,0.200,0.100,0.600,0.500,4,0.8',
      'v,0001,0.200,0.100,0.600,0.500,1,0']


def test_csv_round_trip_through_the_ava_reader(tmp_path):
  detections = _detections([[0.1, 0.2, 0.5, 0.6]], [[0.9, 0.25]])
  path = str(tmp_path / outputs.DETECTIONS_CSV_NAME)
  rows = outputs.keyframe_csv_rows('vid', 3.0, detections, (1, 4))
  assert outputs.write_detections_csv(path, rows) == 2
  read = ava_csv.read_csv(path)
  assert list(read) == ['vid,3.000000']
  np.testing.assert_allclose(read['vid,3.000000'].boxes,
                             [[0.1, 0.2, 0.5, 0.6]] * 2)
  np.testing.assert_array_equal(read['vid,3.000000'].labels, [1, 4])


def test_tubes_link_keyframes_and_serialise(tmp_path):
  # Class 1 moves slowly right over keyframes 0, 10, 20; class 4 is weak
  # everywhere and below the linking min_score.
  by_keyframe = {
      frame: _detections([[0.2, 0.1 + 0.01 * i, 0.6, 0.5 + 0.01 * i]],
                         [[0.8 - 0.1 * i, 0.001]])
      for i, frame in enumerate((0, 10, 20))}
  tubes = outputs.link_keyframe_tubes(by_keyframe, (1, 4))
  assert len(tubes) == 1
  records = outputs.tubes_to_records(tubes, LABELS, fps=10.0)
  (record,) = records
  assert record['label_id'] == 1 and record['label'] == 'catch'
  assert record['score'] == pytest.approx(0.7)
  assert [f['frame'] for f in record['frames']] == [0, 10, 20]
  assert [f['time_seconds'] for f in record['frames']] == [0.0, 1.0, 2.0]
  assert record['frames'][2]['box'] == pytest.approx([0.2, 0.12, 0.6, 0.52])
  assert record['frames'][1]['score'] == pytest.approx(0.7)
  path = str(tmp_path / outputs.TUBES_JSON_NAME)
  outputs.write_tubes_json(path, records)
  with open(path, encoding='utf-8') as f:
    assert json.load(f) == json.loads(json.dumps(records))
  assert os.listdir(tmp_path) == [outputs.TUBES_JSON_NAME]


def test_keyframe_without_detections_breaks_a_tube():
  empty = {_det.detection_boxes: np.zeros((0, 4), np.float32),
           _det.detection_scores: np.zeros(0, np.float32),
           _det.detection_classes: np.zeros(0, np.int64),
           _det.detection_multiclass_scores: np.zeros((0, 2), np.float32)}
  box = _detections([[0.2, 0.1, 0.6, 0.5]], [[0.8, 0.0]])
  tubes = outputs.link_keyframe_tubes({0: box, 5: empty, 10: box}, (1, 4))
  assert sorted(t.frame_indices.tolist() for t in tubes) == [[0], [10]]
