"""ava_csv: AVA csv reading (errors name file:line) and the writer."""

import os

import numpy as np
import pytest

from acrn_tf.evaluation import ava_csv


def _write(tmp_path, name, text):
  path = os.path.join(str(tmp_path), name)
  with open(path, 'w') as f:
    f.write(text)
  return path


def _rows(*rows):
  return ''.join(','.join(str(v) for v in row) + '\n' for row in rows)


BOX_A = (0.1, 0.1, 0.3, 0.3)  # x1, y1, x2, y2
BOX_B = (0.6, 0.6, 0.9, 0.9)


def test_read_csv_groups_converts_and_filters(tmp_path):
  path = _write(tmp_path, 'gt.csv', _rows(
      # x1, y1, x2, y2 -> [y1, x1, y2, x2]; one box with two actions.
      ('vid', '0902', 0.1, 0.2, 0.3, 0.4, 1, 7),
      ('vid', '0902', 0.1, 0.2, 0.3, 0.4, 3, 7),
      ('vid', '0902', 0.5, 0.5, 0.6, 0.6, 2, 8),  # action 2 not evaluated
      ('vid', 903, 0.5, 0.5, 0.6, 0.6, 2, 8),  # only action 2: no keyframe
  ) + '\n')
  groundtruth = ava_csv.read_csv(path, class_ids={1, 3})
  assert list(groundtruth) == ['vid,902.000000']
  entry = groundtruth['vid,902.000000']
  np.testing.assert_allclose(entry.boxes, [[0.2, 0.1, 0.4, 0.3]] * 2)
  assert sorted(entry.labels.tolist()) == [1, 3]


def test_bad_csv_rows_name_file_and_line(tmp_path):
  good = ('vid', '0902', 0.1, 0.2, 0.3, 0.4, 1)
  cases = [
      ((good, ('vid', '0902', 0.1, 0.2, 0.3, 1)),
       r'gt.csv:2: 6 columns, expected 2, 7 or 8'),
      ((('vid', 'nan', 0.1, 0.2, 0.3, 0.4, 1),),
       r"gt.csv:1: timestamp 'nan' is not finite"),
      ((good, good, ('vid', '0902', 'abc', 0.2, 0.3, 0.4, 1)),
       r"gt.csv:3: x1 'abc' is not a number"),
      ((('vid', '0902', 0.1, 0.2, 0.3, 0.4, 'run'),),
       r"gt.csv:1: action_id 'run' is not an integer"),
      ((('vid', '09x2', 0.1, 0.2, 0.3, 0.4, 1),),
       r"gt.csv:1: timestamp '09x2' is not a number"),
      ((good, ('vid', '0902', 0.3, 0.2, 0.1, 0.4, 1)),
       r'gt.csv:2: box .* has x1 > x2'),
  ]
  for rows, message in cases:
    path = _write(tmp_path, 'gt.csv', _rows(*rows))
    with pytest.raises(ava_csv.CsvFormatError, match=message):
      ava_csv.read_csv(path, require_valid_boxes=True)
  # The v2.1 reader: whole seconds, no 2-column rows.
  for rows, message in [
      ((('vid', '0902.5', 0.1, 0.2, 0.3, 0.4, 1),),
       r"gt.csv:1: timestamp '0902.5' is not whole seconds"),
      ((good, ('vid', '0903')), r'gt.csv:2: 2 columns, expected 7 or 8')]:
    path = _write(tmp_path, 'gt.csv', _rows(*rows))
    with pytest.raises(ava_csv.CsvFormatError, match=message):
      ava_csv.read_csv(path, key_fn=ava_csv.ava_v21_key_from_row,
                       allow_keyframe_only_rows=False)
  path = _write(tmp_path, 'excluded.csv', 'vid,0902\nvid\n')
  with pytest.raises(ava_csv.CsvFormatError,
                     match=r'excluded.csv:2: 1 columns, expected 2'):
    ava_csv.read_excluded_timestamps(path)


def test_detection_writer_round_trips_with_x_before_y(tmp_path):
  rows = ava_csv.detection_rows(
      'vid', 902, np.array([[0.1, 0.2, 0.3, 0.4]], np.float32),
      np.array([0.123456789]), np.array([3]))
  # [ymin, xmin, ymax, xmax] = [0.1, 0.2, 0.3, 0.4] -> x1=0.2, y1=0.1, ...
  assert rows == ['vid,0902,0.200,0.100,0.400,0.300,3,0.123456789']
  path = os.path.join(str(tmp_path), 'det.csv')
  multi = ava_csv.multilabel_detection_rows(
      'vid', 903.5, np.array([BOX_A, BOX_B])[:, [1, 0, 3, 2]],
      np.array([[0.1, 0.9], [0.8, 0.2]]), label_ids=[1, 3], max_rows=2)
  assert [r.split(',')[1] for r in multi] == ['0903.500', '0903.500']
  assert ava_csv.write_detections_csv(path, rows + multi) == 3
  assert not [f for f in os.listdir(str(tmp_path)) if '.tmp' in f]
  # The v2.1 reader takes the first row, refuses the 903.5 ones; the
  # current one keys them to the microsecond.
  with pytest.raises(ava_csv.CsvFormatError, match='det.csv:2'):
    ava_csv.read_csv(path, key_fn=ava_csv.ava_v21_key_from_row)
  assert list(ava_csv.read_csv(path)) == ['vid,902.000000', 'vid,903.500000']
  read = ava_csv.read_csv(path, key_fn=ava_csv.frame_key_from_row)
  np.testing.assert_allclose(read['vid,902.000'].boxes, [[0.1, 0.2, 0.3, 0.4]])
  assert read['vid,902.000'].scores.tolist() == [0.123456789]
  # Multi-label: the top two (box, class) pairs, by score.
  entry = read['vid,903.500']
  assert entry.labels.tolist() == [3, 1]
  assert entry.scores.tolist() == [0.9, 0.8]
  np.testing.assert_allclose(entry.boxes,
                             [[0.1, 0.1, 0.3, 0.3], [0.6, 0.6, 0.9, 0.9]])


def test_keyframe_keys_and_timestamps():
  # The current official key: '%s,%.6f', so '0902', '902.0' and
  # '902.0000001' are one keyframe, '0902.001' another.
  assert ava_csv.make_keyframe_key('vid', '0902') == 'vid,902.000000'
  for text in ('0902', '902.0', '902.0000001', ' 902 '):
    assert ava_csv.ava_key_from_row('vid', text, 'f:1') == 'vid,902.000000'
  assert ava_csv.ava_key_from_row('vid', '0902.001', 'f:1') == (
      'vid,902.001000')
  # The v2.1 key: '%s,%04d' of whole seconds.
  assert ava_csv.make_v21_keyframe_key('vid', '0902') == 'vid,0902'
  assert ava_csv.ava_v21_key_from_row('vid', '902.0', 'f:1') == 'vid,0902'
  assert ava_csv.format_timestamp(902) == '0902'
  assert ava_csv.format_timestamp(12.25) == '0012.250'
