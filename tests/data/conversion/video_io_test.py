"""video_io: reading video files and frame directories, clips, resizing."""

import numpy as np
import pytest

from acrn_tf.data.conversion import video_io
from tests.data.conversion import conversion_fixtures as fx


@pytest.fixture(scope='module')
def video_path(tmp_path_factory):
  return fx.write_video(str(tmp_path_factory.mktemp('videos') / 'a.mp4'))


def test_video_file_info_and_frames_in_any_order(video_path):
  with video_io.open_video(video_path) as reader:
    assert reader.info == video_io.VideoInfo(fps=10.0, num_frames=36,
                                             height=32, width=48)
    wanted = [30, 2, 2, 0, 35, 3, 1]
    frames = reader.read_frames(wanted)
    assert [fx.frame_number_in(f) for f in frames] == wanted
    assert all(f.shape == (32, 48, 3) and f.dtype == np.uint8 for f in frames)
    # A backward jump after reading forward seeks correctly.
    assert fx.frame_number_in(reader.read_frames([5])[0]) == 5


def test_frame_outside_the_video_is_an_error(video_path):
  with video_io.open_video(video_path) as reader:
    with pytest.raises(video_io.VideoReadError,
                       match=r"a\.mp4: frame 36 is outside the video's 36 "
                       'frames'):
      reader.read_frames([36])


def test_avi_container(tmp_path):
  path = fx.write_video(str(tmp_path / 'b.avi'), num_frames=8, fps=5)
  with video_io.open_video(path) as reader:
    assert (reader.info.fps, reader.info.num_frames) == (5.0, 8)
    assert [fx.frame_number_in(f) for f in reader.read_frames([7, 4])] == [
        7, 4]


def test_frame_directory_in_natural_order(tmp_path):
  path = fx.write_frame_dir(str(tmp_path / 'frames'), num_frames=12)
  (tmp_path / 'frames' / 'notes.txt').write_text('not a frame')
  with pytest.raises(ValueError, match='a frame directory needs a positive '
                     'fps'):
    video_io.open_video(path)
  with video_io.open_video(path, fps=25) as reader:
    assert reader.info == video_io.VideoInfo(fps=25.0, num_frames=12,
                                             height=32, width=48)
    # 1.png, 2.png, ..., 10.png: 10.png is frame 9, not frame 1.
    assert [fx.frame_number_in(f) for f in reader.read_frames(
        [9, 1, 11])] == [9, 1, 11]


def test_missing_and_unreadable_videos(tmp_path):
  with pytest.raises(video_io.VideoNotFoundError,
                     match=r'nope\.mp4: no such video file or frame '
                     'directory'):
    video_io.open_video(str(tmp_path / 'nope.mp4'))
  broken = tmp_path / 'broken.mp4'
  broken.write_bytes(b'this is not a video')
  with pytest.raises(video_io.VideoReadError,
                     match=r'broken\.mp4: OpenCV cannot open this video'):
    video_io.open_video(str(broken))
  (tmp_path / 'empty').mkdir()
  with pytest.raises(video_io.VideoReadError,
                     match=r'empty: the directory holds no frame images'):
    video_io.open_video(str(tmp_path / 'empty'), fps=10)


@pytest.mark.parametrize('keyframe, frames_per_clip, stride, expected, index, '
                         'clamped', [
                             (10, 4, 1, (8, 9, 10, 11), 2, 0),
                             (10, 5, 2, (6, 8, 10, 12, 14), 2, 0),
                             (1, 4, 2, (0, 0, 1, 3), 2, 2),
                             (34, 4, 1, (32, 33, 34, 35), 2, 0),
                             (35, 4, 1, (33, 34, 35, 35), 2, 1),
                             (0, 1, 3, (0,), 0, 0),
                         ])
def test_clip_frame_numbers(keyframe, frames_per_clip, stride, expected,
                            index, clamped):
  clip = video_io.clip_frame_numbers(keyframe, 36, frames_per_clip, stride)
  assert clip == video_io.ClipFrameNumbers(expected, index, clamped)


def test_keyframe_frame_number_and_timestamps_outside():
  info = video_io.VideoInfo(fps=10.0, num_frames=36, height=32, width=48)
  assert video_io.keyframe_frame_number(info, timestamp_seconds=2.0) == 20
  assert video_io.keyframe_frame_number(info, timestamp_seconds=3.46) == 35
  assert video_io.keyframe_frame_number(info, frame_number=7) == 7
  with pytest.raises(video_io.TimestampOutsideVideoError,
                     match=r'^a\.csv:3: keyframe at 3\.6 s \(frame 36\) is '
                     r'outside the video \(36 frames at 10 fps: 0 to '
                     r'3\.5 s\)$'):
    video_io.keyframe_frame_number(info, 3.6, source='a.csv:3')
  with pytest.raises(video_io.TimestampOutsideVideoError,
                     match=r'keyframe at -1 s \(frame -10\) is outside'):
    video_io.keyframe_frame_number(info, -1.0)
  with pytest.raises(video_io.TimestampOutsideVideoError,
                     match=r'keyframe at frame 40 is outside'):
    video_io.keyframe_frame_number(info, frame_number=40)


def test_resize_shorter_side():
  assert video_io.resized_shape(32, 48, 16) == (16, 24)
  assert video_io.resized_shape(48, 32, 16) == (24, 16)
  assert video_io.resized_shape(30, 45, 20) == (20, 30)
  assert video_io.resized_shape(32, 48, 0) == (32, 48)
  image = fx.make_frames(1)[0]
  assert video_io.resize_shorter_side(image, 64).shape == (64, 96, 3)
  assert video_io.resize_shorter_side(image, 0) is image
  with pytest.raises(ValueError, match='shorter_side must be >= 0'):
    video_io.resized_shape(32, 48, -1)


def test_jpeg_round_trip():
  image = fx.make_frames(4)[3]
  decoded = video_io.decode_jpeg(video_io.encode_jpeg(image, quality=95))
  assert decoded.shape == image.shape
  assert np.abs(decoded.astype(int) - image).mean() < 3
  gray = image[..., 0]
  assert video_io.decode_jpeg(video_io.encode_jpeg(gray),
                              grayscale=True).shape == (32, 48)
  with pytest.raises(ValueError, match='do not decode as an image'):
    video_io.decode_jpeg(b'garbage')
  with pytest.raises(ValueError, match='JPEG quality must be in 1..100'):
    video_io.encode_jpeg(image, quality=0)


def test_read_clip_by_time_with_resize(video_path):
  with video_io.open_video(video_path) as reader:
    clip = video_io.read_clip(reader, frames_per_clip=6, frame_stride=2,
                              timestamp_seconds=0.3, shorter_side=16)
  assert clip.frames.shape == (6, 16, 24, 3)
  assert clip.keyframe_index == 3
  assert clip.keyframe_frame_number == 3
  assert clip.frame_numbers == (0, 0, 1, 3, 5, 7)
  assert clip.num_clamped == 2
  assert [fx.frame_number_in(f) for f in clip.frames] == [0, 0, 1, 3, 5, 7]
