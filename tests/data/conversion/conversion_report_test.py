"""conversion_report: progress and summary text, shard statistics."""

import json

from acrn_tf.data.conversion import annotations
from acrn_tf.data.conversion import conversion_report


def _keyframe(labels=((1,), (1, 4))):
  return annotations.KeyframeAnnotation(
      video_id='a', video_path='a.mp4', keyframe_timestamp=1.0,
      boxes=((0.1, 0.1, 0.5, 0.5),) * len(labels), labels=labels,
      track_ids=(0,) * len(labels), source='a.csv:3')


def test_progress_line_by_hand():
  progress = conversion_report.ConversionProgress(
      keyframes_done=3, keyframes_total=12, examples_written=2,
      keyframes_skipped=1, shards_done=1, shards_total=2,
      elapsed_seconds=1.5)
  assert progress.keyframes_per_second == 2.0
  assert progress.seconds_left == 4.5
  assert conversion_report.format_progress(progress, width=8) == (
      '[##......] 3/12 keyframes, 2.0/s, 0:04 left, shard 2/2, 1 skipped')
  start = conversion_report.ConversionProgress(0, 5000, 0, 0, 0, 3, 0.0)
  assert start.seconds_left is None
  assert conversion_report.format_progress(start, width=4) == (
      '[....] 0/5000 keyframes, 0.0/s, -:-- left, shard 1/3, 0 skipped')


def test_is_final_only_when_every_keyframe_and_shard_is_done():
  progress = conversion_report.ConversionProgress
  assert conversion_report.is_final(progress(12, 12, 12, 0, 2, 2, 1.0))
  # All keyframes read, the last shard not yet closed.
  assert not conversion_report.is_final(progress(12, 12, 12, 0, 1, 2, 1.0))
  assert not conversion_report.is_final(progress(11, 12, 11, 0, 2, 2, 1.0))


def test_shard_stats_json_round_trip_and_summary():
  stats = conversion_report.ShardStats(fingerprint='abc')
  stats.add_written(_keyframe(), clamped=True)
  stats.add_written(_keyframe(((4,),)), clamped=False)
  stats.skip(_keyframe(), 'missing video', 'a.csv:3: gone')
  assert (stats.examples, stats.boxes, stats.clamped_clips) == (2, 3, 1)
  assert stats.labels == {1: 2, 4: 2}
  restored = conversion_report.ShardStats.from_json(stats.to_json())
  assert restored == stats

  summary = conversion_report.ConversionSummary(
      shard_paths=['r/t-00000-of-00002.tfrecord',
                   'r/t-00001-of-00002.tfrecord'],
      shards_written=['r/t-00001-of-00002.tfrecord'],
      shards_already_complete=['r/t-00000-of-00002.tfrecord'],
      label_map_path='r/label_map.pbtxt', num_keyframes=3,
      elapsed_seconds=2.04)
  summary.add(restored)
  assert summary.num_skipped == 1
  assert conversion_report.format_summary(summary, {1: 'stand'}) == (
      'Wrote 2 examples with 3 boxes from 3 keyframes into 2 shards (1 '
      'written now, 1 already complete) in 2.0 s.\n'
      '  shards: r/t-00000-of-00002.tfrecord ... r/t-00001-of-00002.tfrecord\n'
      '  label map: r/label_map.pbtxt\n'
      '  clips with frames repeated past a video end: 1\n'
      'Boxes per label:\n'
      '     1 stand: 2\n'
      '     4: 2\n'
      'Skipped 1 keyframes:\n'
      '  missing video: 1\n'
      '    e.g. a.csv:3: gone')


def test_only_the_first_skips_of_a_reason_are_kept():
  stats = conversion_report.ShardStats()
  for i in range(conversion_report.SKIPPED_EXAMPLES_PER_REASON + 5):
    stats.skip(_keyframe(), 'empty box', f'message {i}')
  assert stats.skipped == {
      'empty box': conversion_report.SKIPPED_EXAMPLES_PER_REASON + 5}
  assert len(stats.skipped_keyframes) == (
      conversion_report.SKIPPED_EXAMPLES_PER_REASON)


def test_skipped_rows_round_trip_and_older_summaries_read():
  stats = conversion_report.ShardStats(fingerprint='abc')
  stats.add_written(_keyframe(), clamped=False)
  stats.skip_rows('a.csv:4', 'empty box', 'a.csv:4: box 1 is empty')
  restored = conversion_report.ShardStats.from_json(stats.to_json())
  assert restored == stats
  assert restored.rows_skipped == {'empty box': 1}
  # A summary written before rows were counted apart reads as no row left out.
  content = json.loads(stats.to_json())
  del content['rows_skipped'], content['skipped_rows']
  older = conversion_report.ShardStats.from_json(json.dumps(content))
  assert (older.rows_skipped, older.skipped_rows) == ({}, [])


def test_exit_status():
  summary = conversion_report.ConversionSummary()
  assert conversion_report.exit_status(summary) == (
      1, 'no example could be written')
  summary.examples_written = 3
  assert conversion_report.exit_status(summary) == (0, None)
  summary.keyframes_skipped = {'missing video': 2}
  status, message = conversion_report.exit_status(summary)
  assert status == conversion_report.EXIT_SKIPPED == 2
  assert message.startswith('2 keyframes and 0 bad boxes or labels were '
                            'skipped (listed above)')
  assert conversion_report.exit_status(summary, allow_skipped=True) == (
      0, None)
