"""record_check: records read through the pipeline against csvs, by hand."""

import numpy as np
import pytest

from acrn_tf.builders import dataset_builder
from acrn_tf.data.conversion import annotations
from acrn_tf.data.conversion import record_check
from acrn_tf.protos import input_reader_pb2
from tests.data.input import sequence_example_fixtures as sx

# The input pipeline training uses; record_check takes it as an argument.
_BUILD = dataset_builder.build

_NUM_EXAMPLES = 6  # 2 shards x 3; example k: video_k at 900 + k s


def _csv_rows(k):
  """AVA rows (x before y) of fixture example k, one per box and label."""
  rows = []
  num_boxes = 1 + k % 3
  for box, labels, track_id in zip(sx.BOXES[:num_boxes],
                                   sx.LABELS[:num_boxes],
                                   sx.TRACK_IDS[:num_boxes]):
    ymin, xmin, ymax, xmax = box
    for label in labels:
      rows.append(f'video_{k},{900 + k:04d},{xmin},{ymin},{xmax},{ymax},'
                  f'{label},{track_id}')
  return rows


def _write(path, lines):
  with open(path, 'w', encoding='utf-8') as f:
    f.write(''.join(line + '\n' for line in lines))
  return str(path)


def _label_map(path, ids=sx.LABEL_IDS):
  return _write(path, [f'item {{ name: "action_{i}" id: {i} }}' for i in ids])


@pytest.fixture(name='records', scope='module')
def _records(tmp_path_factory):
  directory = tmp_path_factory.mktemp('records')
  pattern = sx.write_records(str(directory))
  label_map = _label_map(directory / 'label_map.pbtxt')
  reader = input_reader_pb2.InputReader(
      label_map_path=label_map, frames_per_clip=5, image_height=16,
      image_width=24, max_num_boxes=4, shuffle=True, num_epochs=0)
  reader.tf_record_input_reader.input_path.append(pattern)
  reader.augmentation.random_horizontal_flip = True
  return reader


def _all_rows(skip=()):
  return [row for k in range(_NUM_EXAMPLES) if k not in skip
          for row in _csv_rows(k)]


def test_records_match_their_csv(records, tmp_path):
  reader = records
  csv_path = _write(tmp_path / 'train.csv',
                    ['video_id,middle_frame_timestamp,x1,y1,x2,y2,action_id,'
                     'person_id'] + _all_rows())
  report = record_check.check_records(reader, csv_path, build_dataset=_BUILD)
  assert report.ok, record_check.format_report(report)
  assert report.examples_read == _NUM_EXAMPLES
  assert report.keyframes_in_csv == _NUM_EXAMPLES
  assert report.boxes_checked == 1 + 2 + 3 + 1 + 2 + 3
  assert 'OK: every example matches the csv.' in record_check.format_report(
      report)


def test_tampered_csv_is_reported(records, tmp_path):
  reader = records
  rows = _all_rows(skip=(5,))
  # Example 1, box 1 (track 8) moved right by 0.01 in the csv.
  rows = [r.replace('video_1,0901,0.5,0.3,0.75,0.9,2,8',
                    'video_1,0901,0.51,0.3,0.76,0.9,2,8') for r in rows]
  # Example 2, box 2 (track 9): label 6 becomes 3.
  rows = [r.replace('video_2,0902,0.0,0.0,0.25,0.25,6,9',
                    'video_2,0902,0.0,0.0,0.25,0.25,3,9') for r in rows]
  rows.append('video_9,0909,0.1,0.1,0.2,0.2,1,0')  # no record
  rows.append('video_4,0904,0.1,0.1,0.2,0.2,99,0')  # label not in the map
  csv_path = _write(tmp_path / 'tampered.csv', rows)
  report = record_check.check_records(reader, csv_path, build_dataset=_BUILD)
  assert not report.ok
  found = {(m.video_id, m.timestamp, m.kind) for m in report.mismatches}
  assert found == {
      ('video_1', 901.0, record_check.MISMATCH_BOX),
      ('video_2', 902.0, record_check.MISMATCH_LABELS),
      ('video_9', 909.0, record_check.MISMATCH_MISSING),
      ('video_5', 905.0, record_check.MISMATCH_NOT_IN_CSV)}
  assert report.labels_outside_label_map == 1
  by_kind = {m.kind: m for m in report.mismatches}
  assert 'differs by 0.0100' in by_kind[record_check.MISMATCH_BOX].message
  assert ('labels [1, 2, 3] in the csv, [1, 2, 6] in the record' in
          by_kind[record_check.MISMATCH_LABELS].message)
  assert f'{csv_path}:' in by_kind[record_check.MISMATCH_MISSING].message
  text = record_check.format_report(report)
  assert '4 mismatches:' in text
  assert 'video_1 @ 901: box differs: csv box' in text


def test_boxes_the_converter_leaves_out_are_not_expected(records, tmp_path):
  # An empty box beside video_0's good one, and a keyframe whose only box
  # lies outside the frame: the converter writes neither.
  rows = _all_rows() + ['video_0,0900,0.3,0.3,0.3,0.6,1,5',
                        'video_8,0908,0.1,0.1,1.2,0.2,1,0']
  report = record_check.check_records(records,
                                      _write(tmp_path / 'train.csv', rows),
                                      build_dataset=_BUILD)
  assert report.ok, record_check.format_report(report)
  assert report.bad_boxes == 2
  assert report.keyframes_in_csv == _NUM_EXAMPLES
  assert ('  csv boxes outside [0, 1] or empty, which the converter leaves '
          'out (not compared): 2') in record_check.format_report(report)


def test_excluded_timestamps(records, tmp_path):
  reader = records
  csv_path = _write(tmp_path / 'train.csv',
                    _all_rows() + ['video_9,0909,0.1,0.1,0.2,0.2,1,0'])
  # video_9 is excluded (not expected); video_5 is excluded but recorded.
  excluded = _write(tmp_path / 'excluded.csv', ['video_9,0909', 'video_5,905'])
  report = record_check.check_records(reader, csv_path,
                                      excluded_timestamps_csv=excluded,
                                      build_dataset=_BUILD)
  assert [(m.video_id, m.kind) for m in report.mismatches] == [
      ('video_5', record_check.MISMATCH_EXCLUDED)]
  assert report.keyframes_excluded == 2
  assert report.keyframes_in_csv == _NUM_EXAMPLES - 1


def test_record_label_outside_the_label_map_is_an_error(records, tmp_path):
  reader = records
  csv_path = _write(tmp_path / 'train.csv', _all_rows())
  label_map = _label_map(tmp_path / 'no_6.pbtxt', ids=(1, 2, 3))
  with pytest.raises(record_check.RecordCheckError,
                     match='cannot be read by the input pipeline.*not in the '
                     'label map'):
    record_check.check_records(reader, csv_path, label_map_path=label_map,
                               build_dataset=_BUILD)


def test_missing_records_are_an_error(tmp_path):
  reader = record_check.reader_config_for_check(
      input_paths=[str(tmp_path / 'none-*')],
      label_map_path=_label_map(tmp_path / 'map.pbtxt'))
  csv_path = _write(tmp_path / 'train.csv', _all_rows())
  with pytest.raises(record_check.RecordCheckError, match='no file matches'):
    record_check.check_records(reader, csv_path, build_dataset=_BUILD)


def test_reader_config_for_check_reads_once_in_order(records):
  reader = records
  checked = record_check.reader_config_for_check(reader, ['a', 'b'], 'm')
  assert list(checked.tf_record_input_reader.input_path) == ['a', 'b']
  assert checked.label_map_path == 'm'
  assert (checked.num_epochs, checked.shuffle, checked.deterministic) == (
      1, False, True)
  assert not checked.HasField('augmentation')
  assert (checked.image_height, checked.max_num_boxes) == (16, 4)
  assert list(reader.tf_record_input_reader.input_path) != ['a', 'b']
  minimal = record_check.reader_config_for_check(None, ['x'])
  assert (minimal.frames_per_clip, minimal.image_height) == (1, 16)


def test_boxes_in_stored_frame_undoes_padding():
  # A 48 x 64 valid region padded to 96 x 64: y halved in the padded image.
  boxes = np.array([[0.25, 0.5, 0.5, 1.0]])
  np.testing.assert_allclose(
      record_check.boxes_in_stored_frame(boxes, (48, 64, 3), (96, 64)),
      [[0.5, 0.5, 1.0, 1.0]])
  np.testing.assert_allclose(
      record_check.boxes_in_stored_frame(boxes, (96, 64, 3), (96, 64)), boxes)


def _keyframe(boxes, labels, track_ids):
  return annotations.KeyframeAnnotation(
      video_id='v', video_path='', keyframe_timestamp=3.0, boxes=boxes,
      labels=labels, track_ids=track_ids, source='a.csv:7')


def test_compare_keyframe_by_hand():
  a, b = (0.1, 0.1, 0.5, 0.5), (0.1, 0.1, 0.5, 0.5)
  expected = _keyframe((a, b), ((1,), (2, 3)), (4, 5))
  # Same coordinates: the track id decides the pairing; 0.0009 is within.
  record = np.array([[0.1, 0.1, 0.5, 0.5009], [0.1, 0.1, 0.5, 0.5]])
  mismatches, checked = record_check.compare_keyframe(
      expected, record, [(3, 2), (1,)], [5, 4])
  assert (mismatches, checked) == ([], 2)
  # 0.0011 is outside the tolerance; a third record box is extra.
  c = (0.2, 0.2, 0.6, 0.6)
  apart = _keyframe((a, c), ((1,), (2, 3)), (4, 5))
  record = np.array([[0.1, 0.1, 0.5, 0.5011], [0.2, 0.2, 0.6, 0.6],
                     [0.6, 0.6, 0.9, 0.9]])
  mismatches, _ = record_check.compare_keyframe(
      apart, record, [(1,), (2, 3), (1,)], [4, 5, 6])
  assert [m.kind for m in mismatches] == [record_check.MISMATCH_BOX,
                                          record_check.MISMATCH_EXTRA_BOX]
  assert 'differs by 0.0011' in mismatches[0].message
  # Two csv boxes, one record box at the pipeline's limit.
  mismatches, _ = record_check.compare_keyframe(
      expected, np.array([a]), [(1,)], [4], max_num_boxes=1)
  assert [m.kind for m in mismatches] == [record_check.MISMATCH_MISSING_BOX]
  assert 'max_num_boxes = 1' in mismatches[0].message
  assert (mismatches[0].video_id, mismatches[0].timestamp) == ('v', 3.0)


def test_moved_box_does_not_pull_its_neighbours_apart():
  # The csv splits box a (labels 5, 6) in two: a moved with label 5, a with
  # label 6. The exact pairs are made first; the moved box is left over.
  a, c = (0.75, 0.55, 0.93, 0.87), (0.04, 0.59, 0.18, 0.89)
  moved = (0.80, 0.55, 0.93, 0.87)
  expected = _keyframe((moved, a, c), ((5,), (6,), (6,)), (0, 0, 1))
  mismatches, checked = record_check.compare_keyframe(
      expected, np.array([a, c]), [(5, 6), (6,)], [0, 1])
  assert checked == 3
  assert [m.kind for m in mismatches] == [record_check.MISMATCH_MISSING_BOX,
                                          record_check.MISMATCH_LABELS]
  assert mismatches[0].message.startswith(
      'csv box [0.8000, 0.5500, 0.9300, 0.8700] (person 0): the record has '
      'no box left (2 boxes, the csv 3)')
  assert 'labels [6] in the csv, [5, 6] in the record' in mismatches[1].message


def test_malformed_csv_row_names_the_line(tmp_path):
  csv_path = _write(tmp_path / 'bad.csv',
                    ['v,0902,0.1,0.1,0.2,0.2,1,0', 'v,0902,0.1,x,0.2,0.2,1,0'])
  with pytest.raises(ValueError, match=r'bad\.csv:2: y1 must be a number'):
    record_check.read_expected_keyframes(csv_path, (1,))
