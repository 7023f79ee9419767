"""clip_encoding: one video's keyframes to records, frames and flow."""

import dataclasses

import numpy as np
import pytest

from acrn_tf.core import standard_fields
from acrn_tf.data.conversion import annotations
from acrn_tf.data.conversion import clip_encoding
from acrn_tf.data.conversion import optical_flow
from acrn_tf.data.conversion import video_io
from tests.data.conversion import conversion_fixtures as fx

_keys = standard_fields.SequenceExampleKeys
LABEL_IDS = (1, 2)
OPTIONS = clip_encoding.ConversionOptions(frames_per_clip=4, frame_stride=2)


@pytest.fixture(scope='module')
def video_path(tmp_path_factory):
  return fx.write_video(str(tmp_path_factory.mktemp('videos') / 'a.mp4'))


def _keyframe(timestamp, line=1, **changes):
  fields = dict(video_id='a', video_path='a.mp4',
                keyframe_timestamp=timestamp, boxes=((0.1, 0.2, 0.5, 0.6),),
                labels=((1,),), track_ids=(0,), source=f'a.csv:{line}')
  fields.update(changes)
  return annotations.KeyframeAnnotation(**fields)


def test_shared_frames_give_the_same_records_as_separate_runs(video_path):
  keyframes = [_keyframe(1.0), _keyframe(1.2, line=2), _keyframe(1.4, line=3)]
  options = dataclasses.replace(OPTIONS, flow=True)
  together = clip_encoding.encode_video_keyframes(video_path, keyframes,
                                                  options, LABEL_IDS)
  alone = [clip_encoding.encode_video_keyframes(video_path, [k], options,
                                                LABEL_IDS)[0]
           for k in keyframes]
  assert [r.record for r in together] == [r.record for r in alone]
  assert all(r.record and not r.reason and not r.clamped for r in together)
  record = fx.parse_record(together[1].record)
  assert [fx.frame_number_of(f) for f in record[_keys.frames_encoded]] == [
      8, 10, 12, 14]


def test_clip_encoder_fields_with_a_time_offset(video_path):
  with video_io.open_video(video_path) as reader:
    encoder = clip_encoding.ClipEncoder(reader, OPTIONS)
    clip, num_clamped = encoder.encode(
        _keyframe(900.1, time_offset_seconds=900.0))
  assert num_clamped == 2
  assert (clip.keyframe_index, clip.keyframe_frame_number) == (2, 1)
  assert clip.keyframe_timestamp == 900.1
  np.testing.assert_allclose(clip.frame_timestamps,
                             [900.0, 900.0, 900.1, 900.3])
  assert (clip.frame_height, clip.frame_width, clip.fps) == (32, 48, 10.0)
  assert clip.frame_stride == 2 and not clip.has_flow


def test_refusals_are_results_not_exceptions(video_path, tmp_path):
  broken = tmp_path / 'broken.mp4'
  broken.write_bytes(b'no video')
  missing = clip_encoding.encode_video_keyframes(
      str(tmp_path / 'gone.mp4'), [_keyframe(1.0)], OPTIONS, LABEL_IDS)
  assert (missing[0].reason, missing[0].message) == (
      clip_encoding.REASON_MISSING_VIDEO,
      f'a.csv:1: {tmp_path}/gone.mp4: no such video file or frame directory')
  unreadable = clip_encoding.encode_video_keyframes(
      str(broken), [_keyframe(1.0), _keyframe(2.0)], OPTIONS, LABEL_IDS)
  assert [r.reason for r in unreadable] == [
      clip_encoding.REASON_UNREADABLE_VIDEO] * 2
  results = clip_encoding.encode_video_keyframes(
      video_path, [_keyframe(0.1), _keyframe(4.0, line=2),
                   _keyframe(2.0, line=3, labels=((5,),))],
      dataclasses.replace(OPTIONS, allow_clamped_frames=False), LABEL_IDS)
  assert [(r.reason, r.message) for r in results] == [
      (clip_encoding.REASON_CLAMPED_CLIP,
       "a.csv:1: 2 of the clip's 4 frames lie outside the video"),
      (clip_encoding.REASON_TIMESTAMP_OUTSIDE,
       'a.csv:2: keyframe at 4 s (frame 40) is outside the video (36 frames '
       'at 10 fps: 0 to 3.5 s)'),
      ('unknown label id',
       'a.csv:3: box 0 has label id 5, which is not in the label map '
       '({1, 2})'),
  ]
  assert all(r.record is None for r in results)


def test_flow_is_stored_per_frame(video_path):
  options = dataclasses.replace(OPTIONS, flow=True, flow_bound=10.0)
  (result,) = clip_encoding.encode_video_keyframes(
      video_path, [_keyframe(2.0)], options, LABEL_IDS)
  record = fx.parse_record(result.record)
  assert record[_keys.flow_bound] == 10.0
  assert len(record[_keys.flow_x_encoded]) == 4
  assert len(record[_keys.flow_y_encoded]) == 4
  flow = optical_flow.decode_flow(record[_keys.flow_x_encoded],
                                  record[_keys.flow_y_encoded], 10.0)
  assert flow.shape == (4, 32, 48, 2)
  # The last frame repeats the previous frame's flow.
  assert record[_keys.flow_x_encoded][3] == record[_keys.flow_x_encoded][2]
  # It is the flow of the clip frames 16, 18, 20, 22 (x channel first).
  with video_io.open_video(video_path) as reader:
    frames = reader.read_frames([16, 18, 20, 22])
  expected = optical_flow.dequantise_flow(optical_flow.quantise_flow(
      optical_flow.clip_flow(frames), 10.0), 10.0)
  assert np.abs(expected).max() > 1.0
  # JPEG (quality 95) moves a level by at most two steps of 20 / 255 px.
  assert np.abs(flow - expected).max() <= 2 * 20.0 / 255 + 1e-5


def test_one_frame_clip_with_flow(video_path):
  options = dataclasses.replace(OPTIONS, frames_per_clip=1, flow=True)
  (result,) = clip_encoding.encode_video_keyframes(
      video_path, [_keyframe(2.0)], options, LABEL_IDS)
  record = fx.parse_record(result.record)
  assert record[_keys.num_frames] == 1
  assert len(record[_keys.flow_x_encoded]) == 1
  flow = optical_flow.decode_flow(record[_keys.flow_x_encoded],
                                  record[_keys.flow_y_encoded], 20.0)
  assert np.abs(flow).max() <= 20.0 / 255 + 1e-5  # zero, within a level


def test_options_are_validated():
  with pytest.raises(ValueError, match=r'option jpeg_quality must be in '
                     r'1\.\.100, got 0'):
    dataclasses.replace(OPTIONS, jpeg_quality=0).validate()
  with pytest.raises(ValueError, match=r"option flow_preset must be one of "
                     r"\('ultrafast', 'fast', 'medium'\), got 'slow'"):
    dataclasses.replace(OPTIONS, flow_preset='slow').validate()
  assert 'num_threads' not in OPTIONS.content_fields()
