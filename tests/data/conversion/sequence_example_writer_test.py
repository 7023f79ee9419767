"""sequence_example_writer: the record per SequenceExampleKeys, validation."""

import dataclasses

import numpy as np
import pytest

from acrn_tf.core import standard_fields
from acrn_tf.data.conversion import annotations
from acrn_tf.data.conversion import optical_flow
from acrn_tf.data.conversion import sequence_example_writer as writer
from acrn_tf.data.conversion import video_io
from acrn_tf.data.input import decoder
from tests.data.conversion import conversion_fixtures as fx

_keys = standard_fields.SequenceExampleKeys
_fields = standard_fields.InputDataFields

LABEL_IDS = (1, 2, 4)


def _keyframe(**changes):
  keyframe = annotations.KeyframeAnnotation(
      video_id='vid_a', video_path='vid_a.mp4', keyframe_timestamp=902.0,
      boxes=((0.1, 0.2, 0.5, 0.6), (0.0, 0.5, 1.0, 1.0)),
      labels=((1, 4), (2,)), track_ids=(7, -1), source='train.csv:12')
  return dataclasses.replace(keyframe, **changes)


def _clip(num_frames=3, with_flow=False, **changes):
  frames = fx.make_frames(num_frames)
  flow_x = flow_y = None
  if with_flow:
    levels = np.full((num_frames, 32, 48, 2), 128, np.uint8)
    levels[..., 0] = 160
    flow_x, flow_y = optical_flow.encode_flow(levels)
  clip = writer.EncodedClip(
      frames_encoded=[video_io.encode_jpeg(f) for f in frames],
      frame_height=32, frame_width=48, keyframe_index=num_frames // 2,
      keyframe_frame_number=9020, keyframe_timestamp=902.0,
      frame_timestamps=[902.0 + (i - num_frames // 2) / 10
                        for i in range(num_frames)],
      frame_stride=1, fps=10.0, flow_x_encoded=flow_x, flow_y_encoded=flow_y,
      flow_bound=20.0 if with_flow else None)
  return dataclasses.replace(clip, **changes)


def test_record_holds_every_schema_key():
  example = writer.build_sequence_example(_keyframe(), _clip(), LABEL_IDS)
  record = fx.parse_record(writer.serialize(example))
  assert record[_keys.video_id] == b'vid_a'
  assert record[_keys.keyframe_timestamp] == 902.0
  assert record[_keys.keyframe_frame_number] == 9020
  assert record[_keys.keyframe_index] == 1
  assert (record[_keys.frame_height], record[_keys.frame_width]) == (32, 48)
  assert record[_keys.num_frames] == 3
  assert record[_keys.frame_stride] == 1
  assert record[_keys.fps] == 10.0
  np.testing.assert_allclose(record[_keys.frame_timestamps],
                             [901.9, 902.0, 902.1], atol=1e-3)
  np.testing.assert_allclose(record['boxes'], [[0.1, 0.2, 0.5, 0.6],
                                               [0.0, 0.5, 1.0, 1.0]])
  assert record['labels'] == [(1, 4), (2,)]
  assert list(record[_keys.box_track_id]) == [7, -1]
  assert [fx.frame_number_of(f) for f in record[_keys.frames_encoded]] == [
      0, 1, 2]
  assert record[_keys.flow_bound] == -1.0  # absent without flow
  assert len(record[_keys.flow_x_encoded]) == 0
  assert set(example.context.feature) == {
      _keys.video_id, _keys.keyframe_timestamp, _keys.keyframe_frame_number,
      _keys.keyframe_index, _keys.frame_height, _keys.frame_width,
      _keys.num_frames, _keys.frame_stride, _keys.fps, _keys.frame_timestamps,
      _keys.box_ymin, _keys.box_xmin, _keys.box_ymax, _keys.box_xmax,
      _keys.box_track_id, _keys.box_label_count, _keys.box_label_id}


def test_the_project_decoder_reads_the_record_with_flow():
  example = writer.build_sequence_example(_keyframe(), _clip(with_flow=True),
                                          LABEL_IDS)
  decoded = decoder.SequenceExampleDecoder(
      LABEL_IDS, use_flow=True).decode(writer.serialize(example))
  assert decoded[_fields.frames].shape == (3, 32, 48, 3)
  np.testing.assert_allclose(decoded[_fields.groundtruth_boxes],
                             [[0.1, 0.2, 0.5, 0.6], [0.0, 0.5, 1.0, 1.0]])
  # Multi-hot columns follow ids 1, 2, 4.
  np.testing.assert_array_equal(decoded[_fields.groundtruth_classes],
                                [[1, 0, 1], [0, 1, 0]])
  np.testing.assert_array_equal(decoded[_fields.groundtruth_track_ids],
                                [7, -1])
  # Level 160 is 160 * 40 / 255 - 20 = 5.1 px, level 128 is 0.08 px.
  flow = decoded[_fields.flow].numpy()
  np.testing.assert_allclose(flow[..., 0].mean(), 5.098, atol=0.2)
  np.testing.assert_allclose(flow[..., 1].mean(), 0.078, atol=0.2)


def test_serialization_is_deterministic():
  first = writer.serialize(writer.build_sequence_example(
      _keyframe(), _clip(with_flow=True), LABEL_IDS))
  second = writer.serialize(writer.build_sequence_example(
      _keyframe(), _clip(with_flow=True), LABEL_IDS))
  assert first == second


@pytest.mark.parametrize('boxes, reason, message', [
    (((0.1, 0.2, 0.5, 1.2),), writer.REASON_BOX_OUTSIDE,
     r'^train\.csv:12: box 0 \[ymin, xmin, ymax, xmax\] = \[0\.1, 0\.2, 0\.5, '
     r'1\.2\] is outside \[0, 1\]$'),
    (((-0.1, 0.2, 0.5, 0.6),), writer.REASON_BOX_OUTSIDE, r'is outside'),
    (((float('nan'), 0.2, 0.5, 0.6),), writer.REASON_BOX_OUTSIDE,
     r'= \[nan, 0\.2, 0\.5, 0\.6\] is outside'),
    (((0.5, 0.2, 0.5, 0.6),), writer.REASON_EMPTY_BOX,
     r'^train\.csv:12: box 0 \[ymin, xmin, ymax, xmax\] = \[0\.5, 0\.2, 0\.5, '
     r'0\.6\] is empty \(needs ymin < ymax and xmin < xmax\)$'),
    (((0.1, 0.7, 0.5, 0.6),), writer.REASON_EMPTY_BOX, r'is empty'),
])
def test_bad_boxes_are_refused(boxes, reason, message):
  keyframe = _keyframe(boxes=boxes, labels=((1,),), track_ids=(0,))
  with pytest.raises(writer.InvalidKeyframeError, match=message) as info:
    writer.build_sequence_example(keyframe, _clip(), LABEL_IDS)
  assert info.value.reason == reason


def test_unknown_label_is_refused():
  keyframe = _keyframe(labels=((1, 4), (3,)))
  with pytest.raises(writer.InvalidKeyframeError,
                     match=r'^train\.csv:12: box 1 has label id 3, which is '
                     r'not in the label map \(\{1, 2, 4\}\)$') as info:
    writer.validate_keyframe(keyframe, LABEL_IDS)
  assert info.value.reason == writer.REASON_UNKNOWN_LABEL


def _rows_keyframe():
  """Three boxes from rows 12..16, as `annotations.group_box_rows` gives."""
  return annotations.group_box_rows([
      annotations.BoxRow('vid_a', 'vid_a.mp4', 902.0, None, box, (label,),
                         track, f'train.csv:{line}')
      for line, box, label, track in (
          (12, (0.1, 0.2, 0.5, 0.6), 1, 7),
          (13, (0.1, 0.2, 0.5, 0.6), 4, 7),
          (14, (0.2, 0.3, 1.4, 0.5), 1, 8),
          (15, (0.2, 0.3, 1.4, 0.5), 2, 8),
          (16, (0.0, 0.5, 1.0, 1.0), 3, -1),
          (17, (0.0, 0.5, 1.0, 1.0), 2, -1))])[0]


def test_a_bad_box_or_label_drops_only_its_own_rows():
  kept, dropped = writer.drop_invalid_rows(_rows_keyframe(), LABEL_IDS)
  # Box 1 (rows 14, 15) is outside [0, 1]; box 2 loses label 3 (row 16)
  # and keeps label 2 (row 17); box 0 is untouched.
  assert kept.boxes == ((0.1, 0.2, 0.5, 0.6), (0.0, 0.5, 1.0, 1.0))
  assert kept.labels == ((1, 4), (2,))
  assert kept.track_ids == (7, -1)
  assert kept.label_sources == (('train.csv:12', 'train.csv:13'),
                                ('train.csv:17',))
  assert dropped == [
      writer.InvalidRows(
          'train.csv:14,15', writer.REASON_BOX_OUTSIDE,
          'train.csv:14,15: box 1 [ymin, xmin, ymax, xmax] = [0.2, 0.3, 1.4, '
          '0.5] is outside [0, 1]'),
      writer.InvalidRows(
          'train.csv:16', writer.REASON_UNKNOWN_LABEL,
          'train.csv:16: box 2 has label id 3, which is not in the label map '
          '({1, 2, 4})')]
  writer.validate_keyframe(kept, LABEL_IDS)  # what is left is valid
  # The row's own line, not the keyframe's first, in the keyframe check too.
  with pytest.raises(writer.InvalidKeyframeError, match=r'^train\.csv:14,15: '
                     r'box 1 '):
    writer.validate_keyframe(_rows_keyframe(), LABEL_IDS)


def test_a_valid_keyframe_is_returned_as_is_and_an_all_bad_one_as_none():
  keyframe = _keyframe()
  assert writer.drop_invalid_rows(keyframe, LABEL_IDS) == (keyframe, [])
  kept, dropped = writer.drop_invalid_rows(
      _keyframe(boxes=((0.5, 0.2, 0.5, 0.6), (0.0, 0.5, 1.0, 1.0)),
                labels=((1,), (9,))), LABEL_IDS)
  assert kept is None
  assert [(d.source, d.reason) for d in dropped] == [
      ('train.csv:12', writer.REASON_EMPTY_BOX),
      ('train.csv:12', writer.REASON_UNKNOWN_LABEL)]


@pytest.mark.parametrize('changes, message', [
    (dict(frame_timestamps=[1.0]), r'1 frame timestamps for 3 frames'),
    (dict(keyframe_index=3), r'keyframe index 3 is outside the clip of 3'),
    (dict(frames_encoded=[]), r'the clip has no frames'),
    (dict(frame_height=16), r'frame 0 is 32x48, expected 16x48'),
    (dict(frames_encoded=[b'x', b'y', b'z']), r'frame 0 does not decode'),
    (dict(flow_x_encoded=[b'x'] * 3), r'flow needs both the x and the y'),
])
def test_inconsistent_clips_are_refused(changes, message):
  with pytest.raises(writer.InvalidKeyframeError,
                     match=r'^train\.csv:12: ' + message) as info:
    writer.build_sequence_example(_keyframe(), _clip(**changes), LABEL_IDS)
  assert info.value.reason == writer.REASON_INVALID_CLIP


def test_flow_counts_and_bound_are_checked():
  clip = _clip(with_flow=True)
  with pytest.raises(writer.InvalidKeyframeError,
                     match=r'2 x-flow and 3 y-flow images for 3 frames'):
    writer.validate_clip(dataclasses.replace(
        clip, flow_x_encoded=clip.flow_x_encoded[:2]), 'src')
  with pytest.raises(writer.InvalidKeyframeError,
                     match=r'flow bound must be > 0, got None'):
    writer.validate_clip(dataclasses.replace(clip, flow_bound=None), 'src')
  with pytest.raises(writer.InvalidKeyframeError,
                     match=r'y-flow image 2 is 16x24, expected 32x48'):
    small = optical_flow.encode_flow(np.zeros((1, 16, 24, 2), np.uint8))[1]
    writer.validate_clip(dataclasses.replace(
        clip, flow_y_encoded=clip.flow_y_encoded[:2] + small), 'src')
