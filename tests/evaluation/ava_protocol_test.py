"""ava_protocol: the official AVA rules, on csv files the tests write."""

import math
import os

import numpy as np
import pytest

from acrn_tf.core import standard_fields
from acrn_tf.data import label_map_util
from acrn_tf.evaluation import ava_csv
from acrn_tf.evaluation import ava_protocol

_INPUT = standard_fields.InputDataFields
_DETECTION = standard_fields.DetectionResultFields


def _write(tmp_path, name, text):
  path = os.path.join(str(tmp_path), name)
  with open(path, 'w') as f:
    f.write(text)
  return path


def _rows(*rows):
  return ''.join(','.join(str(v) for v in row) + '\n' for row in rows)


def _files(tmp_path, groundtruth_rows, detection_rows, label_map=None):
  return (_write(tmp_path, 'gt.csv', _rows(*groundtruth_rows)),
          _write(tmp_path, 'det.csv', _rows(*detection_rows)),
          _write(tmp_path, 'label_map.pbtxt',
                 label_map or 'item { name: "throw" id: 1 }\n'))


BOX_A = (0.1, 0.1, 0.3, 0.3)  # x1, y1, x2, y2
BOX_B = (0.6, 0.6, 0.9, 0.9)
FAR = (0.6, 0.1, 0.8, 0.2)


def test_excluded_timestamp_removes_groundtruth_and_detections(tmp_path):
  # 0902: gt A found at 0.9. 0903: gt B, only a far box at 0.95.
  # All in: F (0.95), T (0.9) over 2 gt: P = 0, 1/2 at R = 0, 1/2:
  # AP = 1/2 * 1/2 = 1/4. With 0903 excluded: T over 1 gt: AP 1.
  paths = _files(tmp_path, [('v', '0902') + BOX_A + (1, 0),
                            ('v', '0903') + BOX_B + (1, 0)],
                 [('v', '0902') + BOX_A + (1, 0.9),
                  ('v', '0903') + FAR + (1, 0.95)])
  metrics = ava_protocol.evaluate_files(*paths)
  assert metrics['mean_ap'] == pytest.approx(0.25)
  excluded = _write(tmp_path, 'excluded.csv', 'v,903\n')
  metrics = ava_protocol.evaluate_files(*paths,
                                        excluded_timestamps_csv=excluded)
  assert metrics['mean_ap'] == 1.0
  assert metrics['num_excluded_groundtruth_keyframes'] == 1
  assert metrics['num_excluded_detection_keyframes'] == 1
  assert metrics['classes'][0]['num_groundtruth'] == 1
  assert metrics['official'] == {
      'PascalBoxes_Precision/mAP@0.5IOU': 1.0,
      'PascalBoxes_PerformanceByCategory/AP@0.5IOU/throw': 1.0}


def test_more_than_50_detections_per_keyframe_are_truncated(tmp_path):
  # 50 far boxes score 0.99 .. 0.50, then the hit at 0.1 (rank 51).
  far = [('v', '0902') + FAR + (1, 0.99 - 0.01 * i) for i in range(50)]
  hit = ('v', '0902') + BOX_A + (1, 0.1)
  paths = _files(tmp_path, [('v', '0902') + BOX_A + (1, 0)], far + [hit])
  # Top 50 only: the hit is cut, AP 0. All: P = 1/51 at R = 1: AP 1/51.
  assert ava_protocol.evaluate_files(*paths)['mean_ap'] == 0.0
  assert ava_protocol.evaluate_files(
      *paths, max_detections_per_keyframe=0)['mean_ap'] == pytest.approx(
          1 / 51)
  # The cap counts rows of evaluated classes only: 49 far rows, 10 rows of
  # an action outside the label map scoring 1.0, the hit: it stays, at rank
  # 50 of class 1: AP 1/50.
  others = [('v', '0902') + BOX_A + (4, 1.0)] * 10
  paths = _files(tmp_path, [('v', '0902') + BOX_A + (1, 0)],
                 far[:49] + others + [hit])
  assert ava_protocol.evaluate_files(*paths)['mean_ap'] == pytest.approx(
      1 / 50)


def test_multi_action_groundtruth_and_class_subset(tmp_path):
  label_map = ('label { name: "stand" label_id: 1 label_type: POSE }\n'
               'label { name: "talk" label_id: 2 label_type: INTERACTION }\n')
  # Box A stands and talks (two rows); box B stands and does action 5,
  # which the label map leaves out (its rows are ignored on both sides).
  paths = _files(tmp_path, [
      ('v', '0902') + BOX_A + (1, 0), ('v', '0902') + BOX_A + (2, 0),
      ('v', '0902') + BOX_B + (1, 1), ('v', '0902') + BOX_B + (5, 1)], [
          ('v', '0902') + BOX_A + (1, 0.9), ('v', '0902') + BOX_A + (2, 0.8),
          ('v', '0902') + BOX_B + (5, 0.99)], label_map)
  metrics = ava_protocol.evaluate_files(*paths)
  # stand: A found, B missed: AP 1/2. talk: A found: AP 1.
  assert [c['ap_by_iou']['0.5'] for c in metrics['classes']] == [0.5, 1.0]
  assert [c['num_groundtruth'] for c in metrics['classes']] == [2, 1]
  assert metrics['mean_ap'] == pytest.approx(0.75)
  assert metrics['metric'] == 'ava_frame_ap'


def test_both_label_map_forms_and_a_bad_one(tmp_path):
  groundtruth = [('v', '0902') + BOX_A + (1, 0), ('v', '0902') + BOX_B + (2, 1)]
  detections = [('v', '0902') + BOX_A + (1, 0.9)]
  item_form = ('# OD API form\nitem {\n  name: "stand"\n  id: 1\n}\n'
               'item { name: "talk" id: 2 }\n')
  action_list_form = ('label {\n  name: "stand"\n  label_id: 1\n'
                      '  label_type: PERSON_MOVEMENT\n}\n'
                      'label { name: "talk" label_id: 2 label_type: '
                      'PERSON_INTERACTION }\n')
  results = []
  for label_map in (item_form, action_list_form):
    paths = _files(tmp_path, groundtruth, detections, label_map)
    metrics = ava_protocol.evaluate_files(*paths)
    results.append([(c['id'], c['name'], c['ap_by_iou']['0.5'])
                    for c in metrics['classes']])
  # stand found (AP 1), talk missed (AP 0), whichever form.
  assert results[0] == results[1] == [(1, 'stand', 1.0), (2, 'talk', 0.0)]
  paths = _files(tmp_path, groundtruth, detections,
                 'item { name: "stand" id: 1 }\nitem { name: "talk" }\n')
  with pytest.raises(label_map_util.LabelMapError,
                     match=r'label_map.pbtxt:2: .*no `id`'):
    ava_protocol.evaluate_files(*paths)


def _naive_official_map(gt_rows, det_rows, class_ids, excluded, capacity=50,
                        version='current'):
  """The official procedure written plainly (distinct scores assumed)."""
  def key(row):
    if version == 'v2.1':
      return '%s,%04d' % (row[0], int(row[1]))
    return '%s,%.6f' % (row[0], float(row[1]))

  annotated = {key(r) for r in gt_rows}

  def box_iou(a, b):  # rows are x1, y1, x2, y2
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) -
             inter)
    return inter / union

  gts = [r for r in gt_rows if r[6] in class_ids and key(r) not in excluded]
  dets_by_key = {}
  for r in det_rows:
    if r[6] in class_ids and key(r) not in excluded:
      if version == 'current' and key(r) not in annotated:
        continue  # the current release ignores unannotated keyframes
      dets_by_key.setdefault(key(r), []).append(r)
  dets = []
  for rows in dets_by_key.values():
    dets += sorted(rows, key=lambda r: -r[7])[:capacity]
  aps = []
  for c in sorted(class_ids):
    class_gt = [r for r in gts if r[6] == c]
    if not class_gt:
      continue
    results = []
    for k in dets_by_key:
      # Boxes with x1 >= x2 or y1 >= y2 are dropped (after the cap).
      mine = sorted([r for r in dets if r[6] == c and key(r) == k and
                     r[2] < r[4] and r[3] < r[5]], key=lambda r: -r[7])
      theirs = [r for r in class_gt if key(r) == k]
      used = [False] * len(theirs)
      for d in mine:
        ious = [box_iou(d[2:6], g[2:6]) for g in theirs]
        hit = False
        if ious:
          best = int(np.argmax(ious))
          if ious[best] >= 0.5 and not used[best]:
            used[best] = hit = True
        results.append((d[7], hit))
    results.sort(key=lambda t: -t[0])
    tp = 0
    precisions, recalls = [], []
    for i, (_, hit) in enumerate(results, start=1):
      tp += hit
      precisions.append(tp / i)
      recalls.append(tp / len(class_gt))
    ap = 0.0
    previous_recall = 0.0
    for i, recall in enumerate(recalls):
      if recall > previous_recall:
        ap += (recall - previous_recall) * max(precisions[i:])
        previous_recall = recall
    aps.append(ap)
  return float(np.mean(aps))


def test_equals_the_official_procedure_on_random_data(tmp_path):
  rng = np.random.default_rng(0)
  gt_rows, det_rows = [], []
  for video in ('a', 'b'):
    for second in range(900, 906):
      for person in range(3):
        x1, y1 = rng.uniform(0, 0.6, size=2)
        box = (x1, y1, x1 + rng.uniform(0.1, 0.4), y1 + rng.uniform(0.1, 0.4))
        box = tuple(round(v, 3) for v in box)
        for action in rng.choice([1, 2, 3, 4], size=rng.integers(1, 3),
                                 replace=False):
          gt_rows.append((video, '%04d' % second) + box + (int(action),
                                                            person))
        # Detections: jittered copies of the box, several actions each (some
        # come out with x1 >= x2 or y1 >= y2: dropped on both sides).
        for _ in range(rng.integers(1, 4)):
          jitter = tuple(round(v + rng.normal(0, 0.04), 3) for v in box)
          for action in (1, 2, 3, 4):
            det_rows.append((video, '%04d' % second) + jitter +
                            (action, float(rng.uniform())))
  # A keyframe with detections only, and one with 60 rows (cut to 50).
  det_rows += [('b', '0950', 0.1, 0.1, 0.2, 0.2, 1, float(rng.uniform()))]
  det_rows += [('a', '0901', 0.2, 0.2, 0.5, 0.5, int(rng.integers(1, 4)),
                float(rng.uniform())) for _ in range(60)]
  label_map = ''.join(f'item {{ name: "c{i}" id: {i} }}\n' for i in (1, 2, 3))
  paths = _files(tmp_path, gt_rows, det_rows, label_map)
  excluded = _write(tmp_path, 'excluded.csv', 'b,0903\na,0905\n')
  for version, excluded_keys in (
      (ava_protocol.CURRENT, {'b,903.000000', 'a,905.000000'}),
      (ava_protocol.V2_1, {'b,0903', 'a,0905'})):
    metrics = ava_protocol.evaluate_files(*paths,
                                          excluded_timestamps_csv=excluded,
                                          version=version)
    expected = _naive_official_map(gt_rows, det_rows, {1, 2, 3},
                                   excluded_keys, version=version)
    assert 0.1 < expected < 0.9  # a non-trivial case
    assert metrics['mean_ap'] == pytest.approx(expected, abs=1e-12)
    assert not math.isnan(metrics['mean_ap'])
    # 'b,0950' is the one detection keyframe without groundtruth.
    assert metrics['num_unannotated_detection_keyframes'] == 1


def _model_eval_dict(rng, timestamps):
  """A batch with 30 detection boxes per keyframe over label ids 1, 2, 3."""
  batch_size = len(timestamps)
  gt_boxes = np.round(rng.uniform(0.0, 0.5, (batch_size, 4, 2)), 3)
  gt_boxes = np.concatenate([gt_boxes, gt_boxes + 0.3], axis=-1)
  det_boxes = np.repeat(gt_boxes, 8, axis=1)[:, :30]
  det_boxes = np.round(det_boxes + rng.normal(0, 0.03, det_boxes.shape), 3)
  return {
      _INPUT.video_id: np.array([b'vid'] * batch_size),
      _INPUT.keyframe_timestamp: np.array(timestamps, np.float32),
      _INPUT.groundtruth_boxes: gt_boxes,
      _INPUT.groundtruth_classes: rng.integers(0, 2, (batch_size, 4, 3)),
      _INPUT.num_groundtruth_boxes: np.array([4, 3][:batch_size]),
      _DETECTION.detection_boxes: det_boxes,
      _DETECTION.detection_multiclass_scores: rng.uniform(
          size=(batch_size, 30, 3)),
      _DETECTION.num_detections: np.array([30, 28][:batch_size]),
  }


def test_in_memory_evaluator_equals_the_csv_route(tmp_path):
  rng = np.random.default_rng(1)
  batch = _model_eval_dict(rng, [902.0, 903.0])
  categories = {1: 'stand', 3: 'talk'}  # label id 2 is not evaluated
  evaluator = ava_protocol.AvaFrameAPEvaluator(categories, [1, 2, 3])
  evaluator.add_eval_dict(batch)
  metrics = evaluator.evaluate()
  # The same data through csv files: 30 boxes x 2 evaluated classes = 60
  # rows per keyframe, cut to 50 by the reader as by the evaluator.
  gt_lines, det_lines = [], []
  for i, second in enumerate((902, 903)):
    num_gt = batch[_INPUT.num_groundtruth_boxes][i]
    for box, labels in zip(batch[_INPUT.groundtruth_boxes][i][:num_gt],
                           batch[_INPUT.groundtruth_classes][i][:num_gt]):
      for label in np.nonzero(labels)[0] + 1:
        gt_lines += ava_csv.detection_rows('vid', second, box[None], [1.0],
                                           [label])
    num_det = batch[_DETECTION.num_detections][i]
    det_lines += ava_csv.multilabel_detection_rows(
        'vid', second, batch[_DETECTION.detection_boxes][i][:num_det],
        batch[_DETECTION.detection_multiclass_scores][i][:num_det],
        [1, 2, 3], max_rows=None)
  label_map = ''.join(f'item {{ name: "{n}" id: {i} }}\n'
                      for i, n in categories.items())
  paths = (_write(tmp_path, 'gt.csv', '\n'.join(gt_lines) + '\n'),
           _write(tmp_path, 'det.csv', '\n'.join(det_lines) + '\n'),
           _write(tmp_path, 'label_map.pbtxt', label_map))
  expected = ava_protocol.evaluate_files(*paths)
  assert 0.0 < expected['mean_ap'] < 1.0
  assert metrics['mean_ap'] == pytest.approx(expected['mean_ap'], abs=1e-6)
  assert [c['num_detections'] for c in metrics['classes']] == [
      c['num_detections'] for c in expected['classes']]
  assert sum(c['num_detections'] for c in metrics['classes']) == 100


def test_in_memory_evaluator_exclusions_and_errors():
  rng = np.random.default_rng(2)
  evaluator = ava_protocol.AvaFrameAPEvaluator(
      {1: 'stand'}, [1, 2, 3], excluded_keys={'vid,902.000000'})
  evaluator.add_eval_dict(_model_eval_dict(rng, [902.0]))
  metrics = evaluator.evaluate()
  assert metrics['classes'][0]['num_groundtruth'] == 0
  assert metrics['classes'][0]['num_detections'] == 0
  assert metrics['num_unannotated_detection_keyframes'] == 0
  # The current release keys fractional seconds; v2.1 refuses them.
  evaluator.add_eval_dict(_model_eval_dict(rng, [902.5]))
  assert evaluator.evaluate()['classes'][0]['num_groundtruth'] > 0
  evaluator = ava_protocol.AvaFrameAPEvaluator(
      {1: 'stand'}, [1, 2, 3], version=ava_protocol.V2_1)
  with pytest.raises(ValueError, match='902.5 is not whole seconds'):
    evaluator.add_eval_dict(_model_eval_dict(rng, [902.5]))
  with pytest.raises(ValueError, match=r'categories \[4\] are not among'):
    ava_protocol.AvaFrameAPEvaluator({4: 'x'}, [1, 2, 3])


# The current ActivityNet evaluator, point by point (each case worked by
# hand; the v2.1 release's answer beside it where it differs).


def test_two_column_groundtruth_rows_are_annotated_keyframes(tmp_path):
  # 0902: gt A, found at 0.6. 0903 is annotated with no action (a 2-column
  # row); a detection there at 0.9 is a false positive: F, T over 1 gt:
  # P = 0, 1/2 at R = 0, 1: AP = 1/2. 0904 is not annotated: its 0.95
  # detection is ignored.
  paths = _files(tmp_path, [('v', '0902') + BOX_A + (1, 0), ('v', '0903')],
                 [('v', '0902') + BOX_A + (1, 0.6),
                  ('v', '0903') + BOX_A + (1, 0.9),
                  ('v', '0904') + BOX_A + (1, 0.95)])
  metrics = ava_protocol.evaluate_files(*paths)
  assert metrics['mean_ap'] == 0.5
  assert metrics['classes'][0]['num_detections'] == 2
  assert metrics['num_unannotated_detection_keyframes'] == 1
  assert metrics['num_unannotated_detection_rows'] == 1
  assert metrics['unannotated_detections'] == ava_protocol.IGNORED
  # v2.1 refuses the 2-column row, naming it.
  with pytest.raises(ava_csv.CsvFormatError,
                     match=r'gt.csv:2: 2 columns, expected 7 or 8'):
    ava_protocol.evaluate_files(*paths, version=ava_protocol.V2_1)


def test_detections_on_keyframes_without_groundtruth_are_ignored(tmp_path):
  # Two classes, each found on 0902 (A throws at 0.5, B catches at 0.5),
  # and each detected on 0950, which the groundtruth does not name, at 0.9.
  label_map = 'item { name: "throw" id: 1 }\nitem { name: "catch" id: 2 }\n'
  paths = _files(tmp_path, [('v', '0902') + BOX_A + (1, 0),
                            ('v', '0902') + BOX_B + (2, 1)],
                 [('v', '0902') + BOX_A + (1, 0.5),
                  ('v', '0902') + BOX_B + (2, 0.5),
                  ('v', '0950') + BOX_A + (1, 0.9),
                  ('v', '0950') + BOX_B + (2, 0.9)], label_map)
  # Current: 0950 ignored, each class T over 1 gt: AP 1, mAP 1.
  metrics = ava_protocol.evaluate_files(*paths)
  assert metrics['mean_ap'] == 1.0
  assert metrics['num_unannotated_detection_keyframes'] == 1
  assert metrics['num_unannotated_detection_rows'] == 2
  # v2.1: F (0.9) then T (0.5) per class: P = 1/2 at R = 1: AP 1/2.
  metrics = ava_protocol.evaluate_files(*paths, version=ava_protocol.V2_1)
  assert metrics['mean_ap'] == 0.5
  assert metrics['num_unannotated_detection_keyframes'] == 1
  assert metrics['unannotated_detections'] == ava_protocol.FALSE_POSITIVES
  assert metrics['protocol'] == ava_protocol.PROTOCOL_NAMES['v2.1']


def test_fractional_timestamps_are_keys_to_the_microsecond(tmp_path):
  # gt at 0902.5 (A) and 0903 (B). Detections: A at '902.500' (the same
  # keyframe as '0902.5'), B at '903.0' (the same as '0903'), both found;
  # a far box at '0903.001' (not 0903: not annotated, ignored) at 0.99.
  paths = _files(tmp_path, [('v', '0902.5') + BOX_A + (1, 0),
                            ('v', '0903') + BOX_B + (1, 1)],
                 [('v', '902.500') + BOX_A + (1, 0.9),
                  ('v', '903.0') + BOX_B + (1, 0.8),
                  ('v', '0903.001') + FAR + (1, 0.99)])
  metrics = ava_protocol.evaluate_files(*paths)
  assert metrics['mean_ap'] == 1.0
  assert metrics['num_unannotated_detection_keyframes'] == 1
  # v2.1 refuses fractional seconds (its int() crashes on them).
  with pytest.raises(ava_csv.CsvFormatError,
                     match=r"gt.csv:1: timestamp '0902.5' is not whole"):
    ava_protocol.evaluate_files(*paths, version=ava_protocol.V2_1)


def test_bad_version_is_refused(tmp_path):
  paths = _files(tmp_path, [('v', '0902') + BOX_A + (1, 0)], [])
  with pytest.raises(ValueError, match=r"version 'v3': expected one of"):
    ava_protocol.evaluate_files(*paths, version='v3')
