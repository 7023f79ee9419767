"""ava: reading AVA csvs, and AVA round trips through the converter."""

import os

import numpy as np
import pytest

from acrn_tf.core import standard_fields
from acrn_tf.data import label_map_util
from acrn_tf.data.conversion import ava
from acrn_tf.data.conversion import conversion
from tests.data.conversion import conversion_fixtures as fx

_keys = standard_fields.SequenceExampleKeys

# vid_a@1: box (x1 .2, y1 .1, x2 .6, y2 .5) of person 0 has labels 1 and 2;
# person 1 has label 4. vid_a@2: person 0, label 2. vid_b@3: person 5,
# label 1. A box with the same coordinates but another person is another box.
CSV = ('vid_a,0001,0.2,0.1,0.6,0.5,1,0\n'
       'vid_a,0001,0.250,0.500,0.750,1.000,4,1\n'
       '\n'
       'vid_a,0001,0.2,0.1,0.6,0.5,2,0\n'
       'vid_a,0002,0.2,0.1,0.6,0.5,2,0\n'
       'vid_b,0003,0.0,0.0,1.0,1.0,1,5\n'
       'vid_a,0001,0.2,0.1,0.6,0.5,1,7\n')


@pytest.fixture(scope='module')
def videos_dir(tmp_path_factory):
  directory = tmp_path_factory.mktemp('videos')
  fx.write_video(str(directory / 'vid_a.mp4'))
  fx.write_video(str(directory / 'vid_b.avi'))
  (directory / 'vid_a.txt').write_text('notes about vid_a')
  return str(directory)


def _read(tmp_path, videos_dir, csv_text=CSV, **kwargs):
  path = fx.write_text(str(tmp_path / 'train.csv'), csv_text)
  return ava.read_annotations(path, videos_dir, **kwargs), path


def test_rows_are_grouped_into_keyframes_and_boxes(tmp_path, videos_dir):
  result, path = _read(tmp_path, videos_dir)
  assert result.num_rows == 6
  assert result.dropped == {}
  first, second, third = result.keyframes
  assert (first.video_id, first.video_path, first.keyframe_timestamp) == (
      'vid_a', 'vid_a.mp4', 1.0)
  assert first.source == f'{path}:1'
  # [ymin, xmin, ymax, xmax] from x1, y1, x2, y2.
  assert first.boxes == ((0.1, 0.2, 0.5, 0.6), (0.5, 0.25, 1.0, 0.75),
                         (0.1, 0.2, 0.5, 0.6))
  assert first.labels == ((1, 2), (4,), (1,))
  assert first.track_ids == (0, 1, 7)
  assert (second.keyframe_timestamp, second.labels, second.source) == (
      2.0, ((2,),), f'{path}:5')
  assert (third.video_path, third.keyframe_timestamp, third.track_ids) == (
      'vid_b.avi', 3.0, (5,))


def test_header_and_rows_without_person_id(tmp_path, videos_dir):
  result, _ = _read(tmp_path, videos_dir,
                    ','.join(ava.COLUMNS) + '\nvid_a,0001,0.2,0.1,0.6,0.5,1\n')
  (keyframe,) = result.keyframes
  assert keyframe.track_ids == (-1,)
  assert keyframe.source.endswith('train.csv:2')


def test_excluded_timestamps_are_left_out(tmp_path, videos_dir):
  excluded = fx.write_text(str(tmp_path / 'excluded.csv'),
                           'vid_a,0002\nvid_c,0001\n')
  result, _ = _read(tmp_path, videos_dir, excluded_timestamps_csv=excluded)
  assert [k.key for k in result.keyframes] == ['vid_a,1', 'vid_b,3']
  assert result.dropped == {ava.DROPPED_EXCLUDED: 1}


def test_class_subset(tmp_path, videos_dir):
  result, _ = _read(tmp_path, videos_dir, label_map={1: 'a', 2: 'b', 4: 'c'},
                    class_subset={1, 4})
  first, second = result.keyframes
  assert first.labels == ((1,), (4,), (1,))
  assert second.key == 'vid_b,3'
  # Two rows of label 2; vid_a@2 had nothing else.
  assert result.dropped == {ava.DROPPED_OUTSIDE_SUBSET: 2,
                            ava.DROPPED_EMPTY_AFTER_SUBSET: 1}


def test_keyframes_annotated_with_no_action_are_counted_not_refused(
    tmp_path, videos_dir):
  # The current AVA evaluator's 2-column rows: an annotated keyframe with no
  # action has no box to train on; one that also has boxes keeps them.
  result, _ = _read(tmp_path, videos_dir,
                    'vid_a,0001,0.2,0.1,0.6,0.5,1,0\nvid_a,0002\n'
                    'vid_a,0001\n')
  assert [k.key for k in result.keyframes] == ['vid_a,1']
  assert result.dropped == {ava.DROPPED_NO_ACTION: 1}
  assert result.num_rows == 3


@pytest.mark.parametrize('text, message', [
    ('vid_a,0001,0.2,0.1,0.6\n',
     r'train\.csv:1: expected 8 columns `video_id, middle_frame_timestamp, x1, '
     r'y1, x2, y2, action_id, person_id` \(or 7 without person_id, or 2 for a '
     r'keyframe with no action\), got 5'),
    (',0001\n', r'train\.csv:1: empty video_id'),
    ('vid_a,0001,0.2,0.1,0.6,0.5,1,0\nvid_a,0001,0.2,oops,0.6,0.5,1,0\n',
     r"train\.csv:2: y1 must be a number, got 'oops'"),
    ('vid_a,0001,0.2,0.1,0.6,0.5,1.5,0\n',
     r"train\.csv:1: action_id must be an integer, got '1\.5'"),
    ('vid_a,0001,0.2,0.1,0.6,0.5,1,p3\n',
     r"train\.csv:1: person_id must be an integer, got 'p3'"),
    (',0001,0.2,0.1,0.6,0.5,1,0\n', r'train\.csv:1: empty video_id'),
    ('\n\n', r'train\.csv: the csv holds no annotation rows'),
])
def test_bad_rows_name_file_and_line(tmp_path, videos_dir, text, message):
  with pytest.raises(ava.AvaFormatError, match=message):
    _read(tmp_path, videos_dir, text)


def test_bad_excluded_timestamps_row(tmp_path, videos_dir):
  excluded = fx.write_text(str(tmp_path / 'excluded.csv'),
                           'vid_a,0002\nvid_a,0003,x\n')
  with pytest.raises(ava.AvaFormatError,
                     match=r'excluded\.csv:2: expected 2 columns'):
    _read(tmp_path, videos_dir, excluded_timestamps_csv=excluded)


def test_video_finder(tmp_path, videos_dir):
  finder = ava.VideoFinder(videos_dir)
  assert finder.relative_path('vid_a') == 'vid_a.mp4'  # not vid_a.txt
  assert finder.relative_path('vid_b') == 'vid_b.avi'
  assert finder.relative_path('vid_z') == 'vid_z'
  assert finder.relative_path('../vid_a') == '../vid_a'
  assert finder.relative_path('/abs/vid_a') == '/abs/vid_a'
  with pytest.raises(ava.AvaFormatError,
                     match=r'nope: the videos directory does not exist'):
    ava.VideoFinder(str(tmp_path / 'nope'))


@pytest.mark.parametrize('label_map_text', [fx.ITEM_LABEL_MAP,
                                            fx.AVA_LABEL_MAP])
def test_round_trip_with_either_label_map_form(tmp_path, videos_dir,
                                               label_map_text):
  label_map = label_map_util.read_label_map(
      fx.write_text(str(tmp_path / 'label_map.pbtxt'), label_map_text))
  assert label_map == {1: 'stand', 2: 'talk', 4: 'wave'}
  result, _ = _read(tmp_path, videos_dir)
  options = conversion.ConversionOptions(frames_per_clip=3, num_threads=1)
  summary = conversion.convert(result.keyframes, label_map,
                               str(tmp_path / 'out' / 'train'), options,
                               videos_dir=videos_dir)
  assert (summary.examples_written, summary.num_skipped) == (3, 0)
  records = fx.read_records(summary.shard_paths)
  assert fx.keyframe_keys(records) == [('vid_a', 1.0), ('vid_a', 2.0),
                                       ('vid_b', 3.0)]
  first, second, third = records
  np.testing.assert_allclose(first['boxes'], [[0.1, 0.2, 0.5, 0.6],
                                              [0.5, 0.25, 1.0, 0.75],
                                              [0.1, 0.2, 0.5, 0.6]])
  assert first['labels'] == [(1, 2), (4,), (1,)]
  assert list(first[_keys.box_track_id]) == [0, 1, 7]
  assert second['labels'] == [(2,)]
  assert third['labels'] == [(1,)] and list(third[_keys.box_track_id]) == [5]
  assert [fx.frame_number_of(f) for f in third[_keys.frames_encoded]] == [
      29, 30, 31]


def test_timestamp_offset_and_refusals_through_the_converter(tmp_path,
                                                             videos_dir):
  csv_text = ('vid_a,0902,0.2,0.1,0.6,0.5,1,0\n'
              'vid_a,0999,0.2,0.1,0.6,0.5,1,0\n'
              'vid_z,0902,0.2,0.1,0.6,0.5,1,0\n'
              '../vid_a,0902,0.2,0.1,0.6,0.5,1,0\n'
              'vid_a,0903,0.2,0.1,0.6,0.5,9,0\n')
  result, path = _read(tmp_path, videos_dir, csv_text,
                       timestamp_offset_seconds=900.0)
  summary = conversion.convert(
      result.keyframes, {1: 'stand'}, str(tmp_path / 'out' / 'train'),
      conversion.ConversionOptions(frames_per_clip=1, num_threads=1),
      videos_dir=videos_dir)
  (record,) = fx.read_records(summary.shard_paths)
  assert record[_keys.keyframe_timestamp] == 902.0
  assert record[_keys.keyframe_frame_number] == 20
  assert fx.frame_number_of(record[_keys.frames_encoded][0]) == 20
  messages = {s.reason: s.message for s in summary.skipped_keyframes}
  outside = os.path.abspath(os.path.join(videos_dir, '..', 'vid_a'))
  assert messages == {
      conversion.REASON_TIMESTAMP_OUTSIDE:
          f'{path}:2: keyframe at 99 s (frame 990) is outside the video '
          '(36 frames at 10 fps: 0 to 3.5 s)',
      conversion.REASON_MISSING_VIDEO:
          f'{path}:3: {videos_dir}/vid_z: no such video file or frame '
          'directory',
      conversion.REASON_OUTSIDE_VIDEOS_DIR:
          f"{path}:4: video '../vid_a' resolves to {outside!r}, outside the "
          f'videos directory {videos_dir!r}',
      conversion.REASON_UNKNOWN_LABEL:
          f'{path}:5: box 0 has label id 9, which is not in the label map '
          '({1})',
  }
