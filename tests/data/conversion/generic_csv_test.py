"""generic_csv: users' own csv, by seconds or frames, through the converter."""

import numpy as np
import pytest

from acrn_tf.core import standard_fields
from acrn_tf.data.conversion import ava
from acrn_tf.data.conversion import conversion
from acrn_tf.data.conversion import generic_csv
from tests.data.conversion import conversion_fixtures as fx

_keys = standard_fields.SequenceExampleKeys
LABEL_MAP = {1: 'stand', 2: 'talk', 4: 'wave'}


def _read(tmp_path, text, **kwargs):
  path = fx.write_text(str(tmp_path / 'mine.csv'), text)
  return generic_csv.read_annotations(path, LABEL_MAP, **kwargs), path


def test_labels_by_name_or_id_and_grouping(tmp_path):
  result, path = _read(tmp_path, (
      'video_path,timestamp_or_frame,x1,y1,x2,y2,labels,track_id\n'
      'clips/a.mp4,1.5,0.2,0.1,0.6,0.5,stand;talk,3\n'
      'clips/a.mp4,1.5,0.2,0.1,0.6,0.5,4|talk,3\n'
      'clips/a.mp4,1.5,0.0,0.0,0.5,0.5,"wave ; 1"\n'
      'b.avi,2,0.0,0.0,1.0,1.0,7,\n'))
  assert result.num_rows == 4
  first, second = result.keyframes
  assert (first.video_id, first.video_path, first.keyframe_timestamp) == (
      'clips/a.mp4', 'clips/a.mp4', 1.5)
  assert first.keyframe_frame_number is None
  assert first.boxes == ((0.1, 0.2, 0.5, 0.6), (0.0, 0.0, 0.5, 0.5))
  assert first.labels == ((1, 2, 4), (4, 1))
  assert first.track_ids == (3, -1)
  assert first.source == f'{path}:2'
  # An unknown id is kept for the converter to refuse.
  assert (second.labels, second.track_ids) == (((7,),), (-1,))


def test_frames_as_time_unit(tmp_path):
  result, _ = _read(tmp_path, 'a.mp4,12,0.2,0.1,0.6,0.5,talk,1\n',
                    time_unit='frames')
  (keyframe,) = result.keyframes
  assert (keyframe.keyframe_timestamp, keyframe.keyframe_frame_number) == (
      None, 12)
  assert keyframe.key == 'a.mp4,#12'
  with pytest.raises(generic_csv.GenericCsvFormatError,
                     match=r"mine\.csv:1: timestamp_or_frame must be an "
                     r"integer, got '1\.5'"):
    _read(tmp_path, 'a.mp4,1.5,0.2,0.1,0.6,0.5,talk,1\n', time_unit='frames')
  with pytest.raises(ValueError, match=r"time_unit must be one of "
                     r"\('seconds', 'frames'\), got 'minutes'"):
    _read(tmp_path, 'a.mp4,1,0.2,0.1,0.6,0.5,talk,1\n', time_unit='minutes')


def test_class_subset(tmp_path):
  result, _ = _read(tmp_path, 'a.mp4,1,0.2,0.1,0.6,0.5,talk;wave,1\n'
                    'a.mp4,2,0.2,0.1,0.6,0.5,talk,1\n', class_subset={1, 4})
  (keyframe,) = result.keyframes
  assert keyframe.labels == ((4,),)
  assert result.dropped == {ava.DROPPED_OUTSIDE_SUBSET: 2,
                            ava.DROPPED_EMPTY_AFTER_SUBSET: 1}


@pytest.mark.parametrize('text, message', [
    ('a.mp4,1,0.2,0.1,0.6,0.5,jump,1\n',
     r"mine\.csv:1: label 'jump' is not a name in the label map \(nor an "
     r'id\)'),
    ('a.mp4,1,0.2,0.1,0.6,0.5, ; ,1\n', r'mine\.csv:1: labels is empty'),
    ('a.mp4,1,0.2,0.1,0.6\n', r'mine\.csv:1: expected 8 columns `video_path, '
     r'timestamp_or_frame, x1, y1, x2, y2, labels, track_id` \(or 7 without '
     r'track_id\), got 5'),
    ('a.mp4,1,0.2,0.1,0.6,0.5,talk,x\n',
     r"mine\.csv:1: track_id must be an integer, got 'x'"),
    ('a.mp4,soon,0.2,0.1,0.6,0.5,talk,1\n',
     r"mine\.csv:1: timestamp_or_frame must be a number, got 'soon'"),
    ('video_path,timestamp_or_frame,x1,y1,x2,y2,labels,track_id\n',
     r'mine\.csv: the csv holds no annotation rows'),
])
def test_bad_rows_name_file_and_line(tmp_path, text, message):
  with pytest.raises(generic_csv.GenericCsvFormatError, match=message):
    _read(tmp_path, text)


def test_round_trip_by_frame_number(tmp_path):
  videos_dir = tmp_path / 'videos'
  fx.write_video(str(videos_dir / 'clips' / 'a.mp4'))
  fx.write_frame_dir(str(videos_dir / 'frames_b'), num_frames=12)
  result, _ = _read(tmp_path, 'clips/a.mp4,25,0.2,0.1,0.6,0.5,talk;4,3\n'
                    'frames_b,6,0.0,0.0,1.0,1.0,stand\n'
                    'clips/a.mp4,40,0.2,0.1,0.6,0.5,talk,3\n',
                    time_unit='frames')
  summary = conversion.convert(
      result.keyframes, LABEL_MAP, str(tmp_path / 'records' / 'mine'),
      conversion.ConversionOptions(frames_per_clip=2, shorter_side=24,
                                   frame_dir_fps=12.5, num_threads=2),
      num_shards=2, videos_dir=str(videos_dir))
  assert summary.examples_written == 2
  assert summary.keyframes_skipped == {conversion.REASON_TIMESTAMP_OUTSIDE: 1}
  records = fx.read_records(summary.shard_paths)
  assert fx.keyframe_keys(records) == [('clips/a.mp4', 2.5),
                                       ('frames_b', 0.48)]
  first, second = records
  np.testing.assert_allclose(first['boxes'], [[0.1, 0.2, 0.5, 0.6]])
  assert first['labels'] == [(2, 4)]
  assert list(first[_keys.box_track_id]) == [3]
  assert first[_keys.keyframe_frame_number] == 25
  assert (first[_keys.frame_height], first[_keys.frame_width]) == (24, 36)
  assert [fx.frame_number_of(f) for f in first[_keys.frames_encoded]] == [
      24, 25]
  assert second[_keys.fps] == 12.5
  assert list(second[_keys.box_track_id]) == [-1]
  assert [fx.frame_number_of(f) for f in second[_keys.frames_encoded]] == [
      5, 6]
