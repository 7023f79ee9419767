"""conversion: round trips, refusals, sharding, resuming, flow, progress."""

import dataclasses
import os
import random

import numpy as np
import pytest

from acrn_tf.core import standard_fields
from acrn_tf.data import label_map_util
from acrn_tf.data.conversion import annotations
from acrn_tf.data.conversion import conversion
from acrn_tf.data.conversion import conversion_report
from tests.data.conversion import conversion_fixtures as fx

_keys = standard_fields.SequenceExampleKeys
LABEL_MAP = {1: 'stand', 2: 'talk', 4: 'wave'}
OPTIONS = conversion.ConversionOptions(frames_per_clip=4, frame_stride=2,
                                       num_threads=2)


@pytest.fixture(scope='module')
def videos_dir(tmp_path_factory):
  directory = tmp_path_factory.mktemp('videos')
  fx.write_video(str(directory / 'a.mp4'))
  fx.write_video(str(directory / 'b.avi'))
  fx.write_frame_dir(str(directory / 'c'), num_frames=12)
  (directory / 'broken.mp4').write_bytes(b'not a video')
  return str(directory)


def _keyframe(video='a.mp4', timestamp=1.0, line=1, **changes):
  fields = dict(
      video_id=os.path.splitext(video)[0], video_path=video,
      keyframe_timestamp=timestamp, boxes=((0.1, 0.2, 0.5, 0.6),),
      labels=((1,),), track_ids=(0,), source=f'test.csv:{line}')
  fields.update(changes)
  return annotations.KeyframeAnnotation(**fields)


def _convert(keyframes, output_dir, videos_dir, options=OPTIONS, **kwargs):
  return conversion.convert(keyframes, LABEL_MAP,
                            os.path.join(str(output_dir), 'train'), options,
                            videos_dir=videos_dir, **kwargs)


def _bytes(paths):
  return [open(p, 'rb').read() for p in paths]


def test_round_trip(tmp_path, videos_dir):
  keyframes = [
      _keyframe('b.avi', 1.5, line=3, boxes=((0.0, 0.0, 1.0, 0.5),),
                labels=((2, 4),), track_ids=(9,)),
      _keyframe('a.mp4', 2.0, line=2),
      _keyframe('a.mp4', 0.1, line=1,
                boxes=((0.1, 0.2, 0.5, 0.6), (0.25, 0.5, 0.75, 1.0)),
                labels=((1,), (2, 1)), track_ids=(3, -1)),
  ]
  options = dataclasses.replace(OPTIONS, shorter_side=16)
  summary = _convert(keyframes, tmp_path, videos_dir, options)
  assert summary.examples_written == 3
  assert summary.boxes_written == 4
  assert summary.labels_written == {1: 3, 2: 2, 4: 1}
  assert summary.keyframes_skipped == {}
  assert summary.clips_with_clamped_frames == 1
  assert summary.shard_paths == [
      str(tmp_path / 'train-00000-of-00001.tfrecord')]
  records = fx.read_records(summary.shard_paths)
  # Sorted by video and time, whatever the input order.
  assert fx.keyframe_keys(records) == [('a', 0.1), ('a', 2.0), ('b', 1.5)]
  first, second, third = records
  np.testing.assert_allclose(first['boxes'], [[0.1, 0.2, 0.5, 0.6],
                                              [0.25, 0.5, 0.75, 1.0]])
  assert first['labels'] == [(1,), (2, 1)]
  assert list(first[_keys.box_track_id]) == [3, -1]
  assert third['labels'] == [(2, 4)]
  assert list(third[_keys.box_track_id]) == [9]
  for record, keyframe_frame in ((first, 1), (second, 20), (third, 15)):
    assert record[_keys.keyframe_frame_number] == keyframe_frame
    assert record[_keys.keyframe_index] == 2
    assert record[_keys.num_frames] == 4
    assert record[_keys.frame_stride] == 2
    assert record[_keys.fps] == 10.0
    assert (record[_keys.frame_height], record[_keys.frame_width]) == (16, 24)
    wanted = [min(max(keyframe_frame + (i - 2) * 2, 0), 35)
              for i in range(4)]
    assert [fx.frame_number_of(f)
            for f in record[_keys.frames_encoded]] == wanted
    np.testing.assert_allclose(
        record[_keys.frame_timestamps],
        [record[_keys.keyframe_timestamp] + (n - keyframe_frame) / 10
         for n in wanted], atol=1e-5)
  assert label_map_util.read_label_map(summary.label_map_path) == LABEL_MAP


def test_frame_directory_by_frame_number_and_time_offset(tmp_path, videos_dir):
  keyframes = [
      _keyframe('c', None, keyframe_frame_number=5),
      _keyframe('a.mp4', 902.0, time_offset_seconds=900.0),
  ]
  options = dataclasses.replace(OPTIONS, frame_dir_fps=25.0)
  summary = _convert(keyframes, tmp_path, videos_dir, options)
  first, second = fx.read_records(summary.shard_paths)
  assert first[_keys.keyframe_frame_number] == 20
  assert first[_keys.keyframe_timestamp] == 902.0
  assert [fx.frame_number_of(f) for f in first[_keys.frames_encoded]] == [
      16, 18, 20, 22]
  assert second[_keys.video_id] == b'c'
  assert second[_keys.fps] == 25.0
  assert second[_keys.keyframe_timestamp] == pytest.approx(0.2)
  assert [fx.frame_number_of(f) for f in second[_keys.frames_encoded]] == [
      1, 3, 5, 7]


def _refusal_cases(videos_dir):
  outside = os.path.abspath(os.path.join(videos_dir, '..', 'a.mp4'))
  return {
      'missing video': (
          _keyframe('nope.mp4'), conversion.REASON_MISSING_VIDEO,
          f'test.csv:1: {videos_dir}/nope.mp4: no such video file or frame '
          'directory'),
      'unreadable video': (
          _keyframe('broken.mp4'), conversion.REASON_UNREADABLE_VIDEO,
          f'test.csv:1: {videos_dir}/broken.mp4: OpenCV cannot open this '
          'video'),
      'timestamp outside': (
          _keyframe('a.mp4', 5.0), conversion.REASON_TIMESTAMP_OUTSIDE,
          'test.csv:1: keyframe at 5 s (frame 50) is outside the video (36 '
          'frames at 10 fps: 0 to 3.5 s)'),
      'box outside': (
          _keyframe(boxes=((0.1, 0.2, 1.5, 0.6),)),
          conversion.REASON_BOX_OUTSIDE,
          'test.csv:1: box 0 [ymin, xmin, ymax, xmax] = [0.1, 0.2, 1.5, 0.6] '
          'is outside [0, 1]'),
      'empty box': (
          _keyframe(boxes=((0.1, 0.2, 0.1, 0.6),)),
          conversion.REASON_EMPTY_BOX,
          'test.csv:1: box 0 [ymin, xmin, ymax, xmax] = [0.1, 0.2, 0.1, 0.6] '
          'is empty (needs ymin < ymax and xmin < xmax)'),
      'unknown label': (
          _keyframe(labels=((3,),)), conversion.REASON_UNKNOWN_LABEL,
          'test.csv:1: box 0 has label id 3, which is not in the label map '
          '({1, 2, 4})'),
      'parent directory': (
          _keyframe('../a.mp4'), conversion.REASON_OUTSIDE_VIDEOS_DIR,
          f"test.csv:1: video '../a.mp4' resolves to {outside!r}, outside "
          f'the videos directory {videos_dir!r}'),
      'absolute path': (
          _keyframe('/etc/a.mp4'), conversion.REASON_OUTSIDE_VIDEOS_DIR,
          "test.csv:1: video '/etc/a.mp4' resolves to '/etc/a.mp4', outside "
          f'the videos directory {videos_dir!r}'),
  }


@pytest.mark.parametrize('case', [
    'missing video', 'unreadable video', 'timestamp outside', 'box outside',
    'empty box', 'unknown label', 'parent directory', 'absolute path'])
def test_refused_keyframe_is_skipped_and_reported(tmp_path, videos_dir, case):
  bad, reason, message = _refusal_cases(videos_dir)[case]
  summary = _convert([bad, _keyframe('a.mp4', 2.0, line=2)], tmp_path,
                     videos_dir)
  assert summary.examples_written == 1
  assert summary.keyframes_skipped == {reason: 1}
  assert summary.skipped_keyframes == [
      conversion_report.SkippedKeyframe('test.csv:1', reason, message)]
  assert fx.keyframe_keys(fx.read_records(summary.shard_paths)) == [
      ('a', 2.0)]
  assert f'{reason}: 1' in conversion_report.format_summary(summary)


def test_a_bad_row_is_left_out_and_the_keyframe_kept(tmp_path, videos_dir):
  rows = [annotations.BoxRow('a', 'a.mp4', 1.0, None, box, (label,), track,
                             f'test.csv:{line}')
          for line, box, label, track in (
              (1, (0.1, 0.2, 0.5, 0.6), 1, 0),
              (2, (0.2, 0.1, 0.2, 0.9), 2, 1),   # empty box
              (3, (0.3, 0.3, 0.9, 0.8), 3, 2),   # label 3: not in the map
              (4, (0.3, 0.3, 0.9, 0.8), 4, 2))]
  summary = _convert(annotations.group_box_rows(rows), tmp_path, videos_dir)
  assert summary.examples_written == 1
  assert summary.keyframes_skipped == {}
  assert summary.rows_skipped == {conversion.REASON_EMPTY_BOX: 1,
                                  conversion.REASON_UNKNOWN_LABEL: 1}
  assert summary.skipped_rows == [
      conversion_report.SkippedKeyframe(
          'test.csv:2', conversion.REASON_EMPTY_BOX,
          'test.csv:2: box 1 [ymin, xmin, ymax, xmax] = [0.2, 0.1, 0.2, 0.9] '
          'is empty (needs ymin < ymax and xmin < xmax)'),
      conversion_report.SkippedKeyframe(
          'test.csv:3', conversion.REASON_UNKNOWN_LABEL,
          'test.csv:3: box 2 has label id 3, which is not in the label map '
          '({1, 2, 4})')]
  (record,) = fx.read_records(summary.shard_paths)
  np.testing.assert_allclose(record['boxes'], [[0.1, 0.2, 0.5, 0.6],
                                               [0.3, 0.3, 0.9, 0.8]])
  assert record['labels'] == [(1,), (4,)]
  assert list(record[_keys.box_track_id]) == [0, 2]
  text = conversion_report.format_summary(summary)
  assert ('Left out 2 bad boxes or labels (their keyframes were written with '
          'the other boxes):\n  empty box: 1\n    e.g. test.csv:2: box 1') in (
              text)
  assert conversion_report.exit_status(summary) == (
      conversion_report.EXIT_SKIPPED,
      '0 keyframes and 2 bad boxes or labels were skipped (listed above); '
      'the records hold everything else. Fix the rows, or pass '
      '--allow_skipped to accept them (exit status 2 without it)')
  assert conversion_report.exit_status(summary, allow_skipped=True) == (
      0, None)
  # A rerun finds the shard complete and reports the same rows.
  rerun = _convert(annotations.group_box_rows(rows), tmp_path, videos_dir)
  assert rerun.shards_already_complete == summary.shard_paths
  assert rerun.skipped_rows == summary.skipped_rows


def test_empty_inputs_and_bad_arguments(tmp_path, videos_dir):
  with pytest.raises(conversion.ConversionError,
                     match='^no keyframes to convert: the annotations are '
                     'empty$'):
    _convert([], tmp_path, videos_dir)
  with pytest.raises(conversion.ConversionError,
                     match=r'option frames_per_clip must be >= 1, got 0'):
    _convert([_keyframe()], tmp_path, videos_dir,
             dataclasses.replace(OPTIONS, frames_per_clip=0))
  with pytest.raises(conversion.ConversionError,
                     match=r'process 3 of 4 gets no shard of 3: use at most 3 '
                     'processes'):
    _convert([_keyframe()], tmp_path, videos_dir, num_shards=3,
             num_processes=4, process_index=3)
  with pytest.raises(conversion.ConversionError,
                     match=r'process_index must be in \[0, 2\), got 2'):
    conversion.process_shard_indices(4, 2, 2)
  assert conversion.process_shard_indices(5, 2, 1) == [1, 3]


def _synthetic_keyframes(counts):
  """counts[v] keyframes of video v, at 1, 2, ... seconds."""
  return [_keyframe(f'v{v}.mp4', float(t + 1), line=100 * v + t)
          for v, count in enumerate(counts) for t in range(count)]


def _shard_layout(shards):
  return [[(k.video_id, k.keyframe_timestamp) for k in shard]
          for shard in shards]


def test_shard_assignment_keeps_videos_together_and_balances():
  keyframes = _synthetic_keyframes([4, 4, 4])
  shuffled = list(keyframes)
  random.Random(0).shuffle(shuffled)
  shards = conversion.assign_shards(shuffled, 3)
  assert [{k.video_id for k in shard} for shard in shards] == [
      {'v0'}, {'v1'}, {'v2'}]
  assert _shard_layout(shards) == _shard_layout(
      conversion.assign_shards(keyframes, 3))
  # A cut moves to a video boundary within a quarter shard: 5 + 5 + 4 + 6
  # keyframes in 4 shards of 5 (boundaries at 5, 10, 14).
  sizes = [len(s) for s in conversion.assign_shards(
      _synthetic_keyframes([5, 5, 4, 6]), 4)]
  assert sizes == [5, 5, 4, 6]
  # No boundary near the ideal cut: the video is split (5 + 1 in 2 shards).
  sizes = [len(s) for s in conversion.assign_shards(
      _synthetic_keyframes([5, 1]), 2)]
  assert sizes == [3, 3]
  # Fewer keyframes than shards: every keyframe once, some shards empty.
  shards = conversion.assign_shards(_synthetic_keyframes([1, 1]), 4)
  assert sum(len(s) for s in shards) == 2
  assert sorted(k for s in _shard_layout(shards) for k in s) == [
      ('v0', 1.0), ('v1', 1.0)]


def test_processes_together_write_every_example_once(tmp_path, videos_dir):
  keyframes = [_keyframe(video, t, line=i) for i, (video, t) in enumerate(
      [('a.mp4', 1.0), ('a.mp4', 2.0), ('a.mp4', 3.0), ('b.avi', 0.5),
       ('b.avi', 1.5), ('b.avi', 2.5)])]
  first = _convert(keyframes, tmp_path, videos_dir, num_shards=3,
                   num_processes=2, process_index=0)
  second = _convert(keyframes, tmp_path, videos_dir, num_shards=3,
                    num_processes=2, process_index=1)
  assert [os.path.basename(p) for p in first.shard_paths] == [
      'train-00000-of-00003.tfrecord', 'train-00002-of-00003.tfrecord']
  assert [os.path.basename(p) for p in second.shard_paths] == [
      'train-00001-of-00003.tfrecord']
  assert first.examples_written + second.examples_written == 6
  paths = sorted(first.shard_paths + second.shard_paths)
  keys = fx.keyframe_keys(fx.read_records(paths))
  assert keys == [('a', 1.0), ('a', 2.0), ('a', 3.0), ('b', 0.5), ('b', 1.5),
                  ('b', 2.5)]


def test_rerun_skips_complete_shards_and_gives_the_same_bytes(tmp_path,
                                                              videos_dir):
  keyframes = [_keyframe(video, t, line=i) for i, (video, t) in enumerate(
      [('a.mp4', 1.0), ('a.mp4', 2.0), ('b.avi', 1.0), ('b.avi', 2.0),
       ('nope.mp4', 1.0)])]
  options = dataclasses.replace(OPTIONS, flow=True)
  clean = _convert(keyframes, tmp_path / 'clean', videos_dir, options,
                   num_shards=2)
  clean_bytes = _bytes(clean.shard_paths)
  # Another thread count, the same bytes.
  single = _convert(keyframes, tmp_path / 'single', videos_dir,
                    dataclasses.replace(options, num_threads=1),
                    num_shards=2)
  assert _bytes(single.shard_paths) == clean_bytes

  # A killed run leaves a temporary and no shard 1; the rerun redoes it.
  os.remove(clean.shard_paths[1])
  stale = tmp_path / 'clean' / '.train-00001-of-00002.tfrecord.tmp-99999'
  stale.write_bytes(b'half a shard')
  rerun = _convert(keyframes, tmp_path / 'clean', videos_dir, options,
                   num_shards=2)
  assert rerun.shards_already_complete == clean.shard_paths[:1]
  assert rerun.shards_written == clean.shard_paths[1:]
  assert _bytes(rerun.shard_paths) == clean_bytes
  assert not stale.exists()
  # Counts cover the shard completed earlier too.
  assert (rerun.examples_written, rerun.keyframes_skipped) == (
      4, {conversion.REASON_MISSING_VIDEO: 1})
  assert sorted(os.listdir(tmp_path / 'clean')) == [
      '.train-00000-of-00002.tfrecord.json',
      '.train-00001-of-00002.tfrecord.json', 'label_map.pbtxt',
      'train-00000-of-00002.tfrecord', 'train-00001-of-00002.tfrecord']

  # Other options: every shard is rewritten.
  changed = _convert(keyframes, tmp_path / 'clean', videos_dir,
                     dataclasses.replace(options, jpeg_quality=50),
                     num_shards=2)
  assert changed.shards_written == clean.shard_paths
  assert _bytes(changed.shard_paths) != clean_bytes


def test_conflicting_label_map_in_the_output_directory(tmp_path, videos_dir):
  label_map_util.write_label_map(str(tmp_path / 'label_map.pbtxt'),
                                 {1: 'other'})
  with pytest.raises(conversion.ConversionError,
                     match=r'label_map\.pbtxt: the output directory already '
                     'holds a different label map'):
    _convert([_keyframe()], tmp_path, videos_dir)


def test_progress_reports(tmp_path, videos_dir):
  reports = []
  keyframes = [_keyframe('a.mp4', t, line=i) for i, t in enumerate(
      [1.0, 2.0, 9.0])]
  _convert(keyframes, tmp_path, videos_dir, progress_fn=reports.append)
  done = [r.keyframes_done for r in reports]
  assert done == sorted(done) and done[0] == 0 and done[-1] == 3
  final = reports[-1]
  assert (final.keyframes_total, final.examples_written,
          final.keyframes_skipped, final.shards_done) == (3, 2, 1, 1)
  assert final.seconds_left == 0.0
