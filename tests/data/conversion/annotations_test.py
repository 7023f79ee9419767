"""annotations: KeyframeAnnotation checks and grouping per-box rows."""

import pytest

from acrn_tf.data.conversion import annotations


def _row(timestamp, box, labels, track_id, line, video='v'):
  return annotations.BoxRow(
      video_id=video, video_path=f'{video}.mp4', keyframe_timestamp=timestamp,
      keyframe_frame_number=None, box=box, label_ids=labels,
      track_id=track_id, source=f'a.csv:{line}', time_offset_seconds=900.0)


def test_group_box_rows_merges_boxes_and_labels_in_order():
  box_a, box_b = (0.1, 0.1, 0.5, 0.5), (0.2, 0.2, 0.9, 0.9)
  rows = [_row(902.0, box_b, (3,), 1, 1), _row(903.0, box_a, (1,), 0, 2),
          _row(902.0, box_a, (2,), 0, 3), _row(902.0, box_b, (1, 3), 1, 4),
          _row(902.0, box_b, (2,), 7, 5), _row(902.0, box_a, (1,), 0, 6,
                                               video='w')]
  first, second, third = annotations.group_box_rows(rows)
  assert first.key == 'v,902' and first.source == 'a.csv:1'
  assert first.boxes == (box_b, box_a, box_b)
  assert first.labels == ((3, 1), (2,), (2,))
  assert first.track_ids == (1, 0, 7)
  assert first.time_offset_seconds == 900.0
  assert (second.key, second.labels) == ('v,903', ((1,),))
  assert (third.key, third.video_path) == ('w,902', 'w.mp4')
  # Every label remembers its own row; a box cites all of its rows.
  assert first.label_sources == (('a.csv:1', 'a.csv:4'), ('a.csv:3',),
                                 ('a.csv:5',))
  assert first.label_source(0, 1) == 'a.csv:4'
  assert first.box_source(0) == 'a.csv:1,4'
  assert first.box_source(2) == 'a.csv:5'


def test_join_sources():
  assert annotations.join_sources(['a.csv:3', 'a.csv:3']) == 'a.csv:3'
  assert annotations.join_sources(['a.csv:3', 'b.csv:1', 'a.csv:9']) == (
      'a.csv:3,9, b.csv:1')
  assert annotations.join_sources(['gt.pkl']) == 'gt.pkl'


def test_without_row_sources_every_box_cites_the_keyframe_source():
  keyframe = annotations.KeyframeAnnotation(
      'v', 'v.mp4', 1.0, ((0, 0, 1, 1),), ((1, 2),), (0,), 'gt.pkl')
  assert keyframe.box_source(0) == keyframe.label_source(0, 1) == 'gt.pkl'
  with pytest.raises(ValueError, match='one label source per label'):
    annotations.KeyframeAnnotation(
        'v', 'v.mp4', 1.0, ((0, 0, 1, 1),), ((1, 2),), (0,), 'a.csv:1',
        label_sources=(('a.csv:1',),))


def test_keyframe_checks_and_keys():
  with pytest.raises(ValueError, match=r'a\.csv:1: keyframe v@1\.0 has 1 '
                     'boxes, 0 label lists and 1 track ids'):
    annotations.KeyframeAnnotation('v', 'v.mp4', 1.0, ((0, 0, 1, 1),), (),
                                   (0,), 'a.csv:1')
  with pytest.raises(ValueError, match=r'a\.csv:2: keyframe of v has neither '
                     'a timestamp nor a frame number'):
    annotations.KeyframeAnnotation('v', 'v.mp4', None, (), (), (), 'a.csv:2')
  by_frame = annotations.KeyframeAnnotation('v', 'v', None, (), (), (), 's',
                                            keyframe_frame_number=12)
  assert by_frame.key == 'v,#12'
