"""reporting: metrics JSON, per-class csv, P/R plot and the console table."""

import csv
import json
import os

import numpy as np
import pytest

from acrn_tf.evaluation import frame_ap
from acrn_tf.evaluation import reporting

BOX_A = [0.0, 0.0, 0.4, 0.4]
BOX_B = [0.5, 0.5, 0.9, 0.9]


def _metrics(num_classes=3):
  """Class 1 AP 1/2 (one of two boxes found), class 2 AP 1, rest no gt."""
  categories = {i: f'class_{i}' for i in range(1, num_classes + 1)}
  evaluator = frame_ap.FrameAPEvaluator(categories, iou_thresholds=(0.5, 0.75))
  evaluator.add_groundtruth('k1', [BOX_A, BOX_B], [[1], [1, 2]])
  evaluator.add_detections('k1', np.array([BOX_A, BOX_B]),
                           np.array([0.9, 0.8]), np.array([1, 2]))
  return evaluator.evaluate()


def test_write_report_writes_the_three_files(tmp_path):
  output_dir = os.path.join(str(tmp_path), 'out')
  paths = reporting.write_report(output_dir, _metrics())
  assert sorted(os.listdir(output_dir)) == [
      'metrics.json', 'per_class_ap.csv', 'pr_curves.png']
  with open(paths['metrics.json']) as f:
    content = json.load(f)
  assert content['mean_ap'] == pytest.approx(0.75)
  assert content['mean_ap_by_iou'] == {'0.5': 0.75, '0.75': 0.75}
  assert 'pr_curves' not in content
  # The class without gt: AP nan is written as null (valid JSON).
  assert content['classes'][2]['ap_by_iou'] == {'0.5': None, '0.75': None}
  with open(paths['per_class_ap.csv']) as f:
    rows = list(csv.reader(f))
  assert rows == [
      ['id', 'name', 'num_groundtruth', 'num_detections', 'AP@0.5',
       'AP@0.75'],
      ['1', 'class_1', '2', '1', '0.500000', '0.500000'],
      ['2', 'class_2', '1', '1', '1.000000', '1.000000'],
      ['3', 'class_3', '0', '0', '', '']]
  with open(paths['pr_curves.png'], 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_plot_grid_for_many_classes_and_bad_threshold(tmp_path):
  # 14 classes with gt (more than share one axes): a grid of small axes.
  categories = {i: f'class_{i}' for i in range(1, 15)}
  evaluator = frame_ap.FrameAPEvaluator(categories, iou_thresholds=(0.5, 0.75))
  for i in categories:
    evaluator.add_groundtruth(f'k{i}', [BOX_A, BOX_B], [[i], [i]])
    evaluator.add_detections(f'k{i}', np.array([BOX_B, BOX_A]),
                             np.array([0.9, i / 20]), np.array([i, i]))
  metrics = evaluator.evaluate()
  assert len(metrics['pr_curves']['0.75']) == 14
  path = os.path.join(str(tmp_path), 'grid.png')
  reporting.plot_pr_curves(path, metrics, iou_threshold=0.75)
  assert os.path.getsize(path) > 1000
  with pytest.raises(ValueError, match='no P/R curves at IoU 0.3'):
    reporting.plot_pr_curves(path, metrics, iou_threshold=0.3)
  assert os.listdir(str(tmp_path)) == ['grid.png']  # no temporary left


def test_per_class_table():
  table = reporting.format_per_class_table(_metrics())
  lines = table.splitlines()
  assert lines[0].split() == ['id', 'name', 'gt', 'det', 'AP@0.5', 'AP@0.75']
  assert lines[1].split() == ['1', 'class_1', '2', '1', '50.00', '50.00']
  assert lines[3].split() == ['3', 'class_3', '0', '0', '-', '-']
  assert set(lines[4]) == {'-'}
  assert lines[5].split() == ['mean', '75.00', '75.00']


def test_scalar_summaries_and_json_text():
  scalars = reporting.scalar_summaries(_metrics())
  assert scalars['frame_ap/mAP@0.5IOU'] == pytest.approx(0.75)
  assert scalars['frame_ap/PerformanceByCategory/AP@0.75IOU/class_1'] == 0.5
  assert not any('class_3' in name for name in scalars)
  text = reporting.metrics_to_json(_metrics(), include_curves=True)
  curves = json.loads(text)['pr_curves']['0.5']
  assert curves['1'] == {'precision': [1.0], 'recall': [0.5]}
