"""video_stream: keyframe plans, clip frame numbers and the bounded buffer.

Most tests read an in-memory video whose frame t is filled with the value
t, so a clip's frame numbers can be read from its pixels; one reads a real
MJPG .avi written with OpenCV (frame t shows t in binary).
"""

import numpy as np
import pytest

from acrn_tf.data.conversion import optical_flow
from acrn_tf.data.conversion import video_io
from acrn_tf.inference import video_stream
from tests.inference import inference_fixtures as fx


class _ArrayReader(video_io.VideoReader):
  """Frame t is uint8 `t` everywhere; counts decodes; may end early."""

  def __init__(self, num_frames, reported=None, fps=10.0, size=(6, 8)):
    super().__init__('memory.mp4', video_io.VideoInfo(
        fps=fps, num_frames=reported or num_frames, height=size[0],
        width=size[1]))
    self._actual = num_frames
    self._size = size
    self.decoded = []

  def _read(self, frame_number):
    if frame_number >= self._actual:
      raise video_io.VideoReadError(f'cannot decode frame {frame_number}')
    self.decoded.append(frame_number)
    return np.full(self._size + (3,), frame_number, np.uint8)


def _options(**kwargs):
  defaults = dict(frames_per_clip=5, frame_stride=2, keyframe_every=9)
  defaults.update(kwargs)
  return video_stream.StreamOptions(**defaults)


def _clips(stream):
  """{keyframe: frame numbers read from the clip's pixels}."""
  return {e.clip.keyframe_frame_number:
              [int(f[0, 0, 0]) for f in e.clip.frames]
          for e in stream if isinstance(e, video_stream.ClipEvent)}


@pytest.mark.parametrize('kwargs, start, stop, keyframes', [
    (dict(keyframe_every=4), 0, 30, (0, 4, 8, 12, 16, 20, 24, 28)),
    # 0.4 s apart at 10 fps: every 4th frame.
    (dict(keyframe_every=None, keyframes_per_second=2.5), 0, 30,
     (0, 4, 8, 12, 16, 20, 24, 28)),
    # 1 s to 2 s inclusive: frames 10..20.
    (dict(keyframe_every=4, start_seconds=1.0, end_seconds=2.0), 10, 21,
     (10, 14, 18)),
    (dict(keyframe_every=4, start_seconds=1.0, max_frames=5), 10, 15,
     (10, 14)),
    # Times 0.55, 1.55, 2.55 s: frames round(5.5) = 6, 16, 26.
    (dict(keyframe_every=None, keyframes_per_second=1.0,
          start_seconds=0.55), 6, 30, (6, 16, 26)),
    # More keyframes per second than frames: each frame once.
    (dict(keyframe_every=None, keyframes_per_second=25.0, max_frames=3), 0,
     3, (0, 1, 2)),
    # Given times, in any order, repeated: frames round(10 t), once each;
    # 3.5 s (frame 35) lies past the video and is left out.
    (dict(keyframe_every=None, keyframe_seconds=(2.0, 0.44, 1.0, 2.0, 3.5)),
     0, 30, (4, 10, 20)),
    (dict(keyframe_every=None, keyframe_seconds=(0.5, 1.5),
          start_seconds=1.0), 10, 30, (15,)),
])
def test_plan_keyframes(kwargs, start, stop, keyframes):
  plan = video_stream.plan_keyframes(30, 10.0, _options(**kwargs))
  assert (plan.start_frame, plan.stop_frame) == (start, stop)
  assert plan.keyframe_numbers == keyframes


def test_plan_refuses_keyframe_times_all_outside_the_range():
  with pytest.raises(video_stream.EmptyRangeError,
                     match=r'^v.mp4: none of the 2 keyframes asked for '
                     r'\(frames 35 to 40, 3.5 to 4 s\) lies in frames 0 to '
                     r'29 \(the video has 30 frames at 10 fps\)$'):
    video_stream.plan_keyframes(
        30, 10.0, _options(keyframe_every=None, keyframe_seconds=(4.0, 3.5)),
        source='v.mp4')


def test_plan_refuses_a_range_past_the_end():
  with pytest.raises(video_stream.EmptyRangeError,
                     match=r'v.mp4: the range from frame 40 .*30 frames'):
    video_stream.plan_keyframes(30, 10.0, _options(start_seconds=4.0),
                                source='v.mp4')


@pytest.mark.parametrize('kwargs, message', [
    (dict(keyframe_every=None), 'exactly one of'),
    (dict(keyframes_per_second=1.0), 'exactly one of'),
    (dict(keyframe_seconds=(1.0,)), 'exactly one of'),
    (dict(keyframe_every=None, keyframe_seconds=()), 'keyframe_seconds is '
     'empty'),
    (dict(keyframe_every=None, keyframe_seconds=(1.0, -2.0)),
     'keyframe_seconds must be times >= 0 in the video, got -2.0'),
    (dict(keyframe_every=0), 'keyframe_every must be >= 1'),
    (dict(start_seconds=2.0, end_seconds=1.0), r'end \(1.0 s\) is before'),
    (dict(max_frames=0), 'max_frames must be >= 1'),
])
def test_bad_options_are_refused(kwargs, message):
  with pytest.raises(ValueError, match=message):
    _options(**kwargs)


def test_clips_hold_the_frames_worked_out_by_hand():
  # T=5, stride 2: frames k-4, k-2, k, k+2, k+4, clamped to 0..29.
  stream = video_stream.VideoStream(_ArrayReader(30), _options())
  assert stream.span == 9
  clips = _clips(stream)
  assert clips == {0: [0, 0, 0, 2, 4], 9: [5, 7, 9, 11, 13],
                   18: [14, 16, 18, 20, 22], 27: [23, 25, 27, 29, 29]}


def test_clip_metadata_and_event_order():
  events = list(video_stream.VideoStream(_ArrayReader(30), _options()))
  order = [('clip', e.clip.keyframe_frame_number)
           if isinstance(e, video_stream.ClipEvent) else e.frame_number
           for e in events]
  # A clip comes right after its last frame (k + 4), the end's at the end.
  assert order[:6] == [0, 1, 2, 3, 4, ('clip', 0)]
  assert order[order.index(13) + 1] == ('clip', 9)
  assert order[-2:] == [29, ('clip', 27)]
  assert [e for e in order if not isinstance(e, tuple)] == list(range(30))
  last = events[-1]
  assert last.clip.keyframe_index == 2
  assert last.clip.num_clamped == 1
  assert last.clip.frame_numbers == (23, 25, 27, 29, 29)
  assert last.timestamp_seconds == pytest.approx(2.7)
  assert last.flow is None


def test_buffer_never_holds_more_than_one_span():
  reader = _ArrayReader(200)
  stream = video_stream.VideoStream(reader, _options(keyframe_every=3))
  held = []
  for _ in stream:
    held.append(stream.frames_held)
  assert max(held) == stream.max_frames_held == 9
  # Every frame decoded once, in order.
  assert reader.decoded == list(range(200))


def test_range_reads_only_the_context_the_clips_need():
  reader = _ArrayReader(30)
  stream = video_stream.VideoStream(
      reader, _options(start_seconds=1.0, end_seconds=1.9))
  events = list(stream)
  frames = [e.frame_number for e in events
            if isinstance(e, video_stream.FrameEvent)]
  assert frames == list(range(10, 20))  # frames 10..19 are the range
  assert _clips(iter(events)) == {10: [6, 8, 10, 12, 14],
                                  19: [15, 17, 19, 21, 23]}
  assert reader.decoded == list(range(6, 24))


def test_video_ending_before_its_reported_count_clamps_to_the_last_read():
  reader = _ArrayReader(25, reported=30)
  stream = video_stream.VideoStream(reader, _options())
  clips = _clips(stream)
  # Keyframe 27 lies past the real end (frame 24) and is dropped.
  assert clips == {0: [0, 0, 0, 2, 4], 9: [5, 7, 9, 11, 13],
                   18: [14, 16, 18, 20, 22]}
  assert stream.frames_read == 25


def test_video_shorter_than_a_clip_is_refused():
  with pytest.raises(video_stream.VideoTooShortError,
                     match=r'memory.mp4: the video has 8 frames, fewer than '
                     r'the 9 frames one clip spans \(5 frames at stride 2\)'):
    video_stream.VideoStream(_ArrayReader(8), _options())
  assert issubclass(video_stream.VideoTooShortError, ValueError)


def test_video_found_shorter_than_a_clip_while_reading_is_refused():
  stream = video_stream.VideoStream(_ArrayReader(5, reported=30), _options())
  with pytest.raises(video_stream.VideoTooShortError, match='has 5 frames'):
    list(stream)


def test_clip_size_and_flow():
  stream = video_stream.VideoStream(
      _ArrayReader(12, size=(24, 32)),
      _options(keyframe_every=20, clip_size=(12, 16)),
      flow_estimator=optical_flow.FlowEstimator('ultrafast'))
  (event,) = [e for e in stream if isinstance(e, video_stream.ClipEvent)]
  assert event.clip.frames.shape == (5, 12, 16, 3)
  assert event.flow.shape == (5, 12, 16, 2)
  assert event.flow.dtype == np.float32


def test_real_video_file(tmp_path):
  path = fx.write_video(str(tmp_path / 'numbers.avi'))
  with video_io.open_video(path) as reader:
    assert reader.info.num_frames == fx.NUM_FRAMES
    stream = video_stream.VideoStream(
        reader, _options(frames_per_clip=4, frame_stride=3,
                         keyframe_every=None, keyframes_per_second=1.0))
    clips = {e.clip.keyframe_frame_number:
                 [fx.frame_number_in(f) for f in e.clip.frames]
             for e in stream if isinstance(e, video_stream.ClipEvent)}
    assert stream.max_frames_held == 10
  # T=4, stride 3: frames k-6, k-3, k, k+3 at k = 0, 10, 20 (1 s at 10 fps).
  assert clips == {0: [0, 0, 0, 3], 10: [4, 7, 10, 13],
                   20: [14, 17, 20, 23]}


@pytest.mark.parametrize('frame, keyframe', [(0, None), (3, 3), (5, 3),
                                             (9, 9), (40, 9)])
def test_keyframe_for_frame(frame, keyframe):
  assert video_stream.keyframe_for_frame([3, 6, 9], frame) == keyframe


def test_keyframes_per_second_stamps_the_planned_times():
  # 29.97 fps: second 902 is frame round(902 * 29.97) = round(27032.94) =
  # 27033, whose own time 27033 / 29.97 = 902.002 s; the keyframe keeps
  # the whole second it was planned for.
  plan = video_stream.plan_keyframes(
      30000, 29.97, _options(keyframe_every=None, keyframes_per_second=1.0,
                             start_seconds=902.0, max_frames=60))
  assert plan.keyframe_numbers == (27033, 27063)
  assert plan.keyframe_times == (902.0, 903.0)
  # keyframe_every: the frame's own time.
  plan = video_stream.plan_keyframes(30, 10.0, _options(keyframe_every=4))
  assert plan.keyframe_times == (0.0, 0.4, 0.8, 1.2, 1.6, 2.0, 2.4, 2.8)
