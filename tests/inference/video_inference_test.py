"""video_inference: a whole run with a scripted detector on a fixture video.

The detector reads the keyframe's number from its pixels (frame t shows t
in binary) and returns one box that moves right with t, so the csv, the
tube and the rendered video can be checked against numbers worked out by
hand.
"""

import json
import os

import cv2
import numpy as np
import pytest

from acrn_tf.core import standard_fields
from acrn_tf.data.conversion import video_io
from acrn_tf.evaluation import ava_csv
from acrn_tf.inference import detectors
from acrn_tf.inference import video_inference
from acrn_tf.inference import video_stream
from tests.inference import inference_fixtures as fx

_det = standard_fields.DetectionResultFields
LABELS = {1: 'walk', 3: 'wave'}


class _ScriptedDetector(detectors.Detector):
  """One box at x = t / 100 for keyframe t; class 1 scores 0.8, 3 0.3."""

  def __init__(self, uses_flow=False):
    super().__init__(frames_per_clip=4, frame_stride=2, image_size=(24, 32),
                     uses_flow=uses_flow, label_map=LABELS)
    self.clips = []

  def _detect(self, frames, flow):
    keyframe = fx.frame_number_in(frames[2])
    self.clips.append(([fx.frame_number_in(f) for f in frames], frames.shape,
                       None if flow is None else flow.shape))
    x = keyframe / 100.0
    return {
        _det.detection_boxes: np.array([[0.2, x, 0.8, x + 0.4]], np.float32),
        _det.detection_scores: np.array([0.8], np.float32),
        _det.detection_classes: np.array([1]),
        _det.detection_multiclass_scores: np.array([[0.8, 0.3]], np.float32),
        _det.relation_heatmaps: np.arange(6, dtype=np.float32).reshape(
            1, 2, 3),
    }


@pytest.fixture(name='video')
def _video(tmp_path):
  return fx.write_video(str(tmp_path / 'walk.avi'))


def _frame_count(path):
  capture = cv2.VideoCapture(path)
  count = 0
  while capture.read()[0]:
    count += 1
  capture.release()
  return count


def test_run_writes_csv_tubes_video_and_pngs(tmp_path, video):
  detector = _ScriptedDetector()
  progress = []
  options = video_inference.InferenceOptions(
      output_dir=str(tmp_path / 'out'), keyframe_every=10,
      heatmap_frames_dir=str(tmp_path / 'pngs'))
  summary = video_inference.run_inference(detector, video, options,
                                          progress.append)
  # Keyframes 0, 10, 20; clips of 4 frames every 2 (k-4, k-2, k, k+2),
  # resized to the detector's 24 x 32.
  assert [c[0] for c in detector.clips] == [[0, 0, 0, 2], [6, 8, 10, 12],
                                            [16, 18, 20, 22]]
  assert detector.clips[0][1:] == ((4, 24, 32, 3), None)
  assert [(p.keyframes_done, p.keyframes_total) for p in progress] == [
      (1, 3), (2, 3), (3, 3)]
  assert progress[-1].seconds_left == 0
  assert summary.video_id == 'walk'
  assert (summary.keyframes, summary.detections, summary.csv_rows,
          summary.tubes) == (3, 3, 6, 2)
  assert summary.frames_read == summary.frames_rendered == 30
  assert summary.heatmap_frames == 3

  with open(summary.detections_csv_path, encoding='utf-8') as f:
    rows = f.read().splitlines()
  assert rows == [
      'walk,0000,0.000,0.200,0.400,0.800,1,0.800000012',
      'walk,0000,0.000,0.200,0.400,0.800,3,0.300000012',
      'walk,0001,0.100,0.200,0.500,0.800,1,0.800000012',
      'walk,0001,0.100,0.200,0.500,0.800,3,0.300000012',
      'walk,0002,0.200,0.200,0.600,0.800,1,0.800000012',
      'walk,0002,0.200,0.200,0.600,0.800,3,0.300000012']

  with open(summary.tubes_json_path, encoding='utf-8') as f:
    tubes = json.load(f)
  # IoU of consecutive boxes (x shifted by 0.1 of a 0.4 width) is 0.6.
  assert [(t['label_id'], t['label']) for t in tubes] == [(1, 'walk'),
                                                          (3, 'wave')]
  assert tubes[0]['score'] == pytest.approx(0.8)
  assert [f['frame'] for f in tubes[0]['frames']] == [0, 10, 20]
  assert [f['time_seconds'] for f in tubes[0]['frames']] == [0.0, 1.0, 2.0]
  assert tubes[0]['frames'][1]['box'] == pytest.approx([0.2, 0.1, 0.8, 0.5])

  assert _frame_count(summary.rendered_video_path) == 30
  assert sorted(os.listdir(tmp_path / 'out')) == [
      'detections.csv', 'rendered.mp4', 'tubes.json']
  assert sorted(os.listdir(tmp_path / 'pngs')) == [
      'walk_000000.png', 'walk_000010.png', 'walk_000020.png']


def test_range_flow_and_video_id(tmp_path, video):
  detector = _ScriptedDetector(uses_flow=True)
  options = video_inference.InferenceOptions(
      output_dir=str(tmp_path / 'out'), video_id='clip7',
      keyframes_per_second=2.0, start_seconds=1.0, end_seconds=2.0,
      render_video=False)
  summary = video_inference.run_inference(detector, video, options)
  # 1.0 s to 2.0 s at 2 per second: keyframes 10, 15, 20.
  assert [c[0][2] for c in detector.clips] == [10, 15, 20]
  assert detector.clips[0][2] == (4, 24, 32, 2)
  assert summary.rendered_video_path is None
  assert summary.frames_rendered == 0
  assert summary.frames_read == 17  # 6..22: the range 10..20 and context
  with open(summary.detections_csv_path, encoding='utf-8') as f:
    stamps = [row.split(',')[:2] for row in f.read().splitlines()]
  assert stamps[::2] == [['clip7', '0001'], ['clip7', '0001.500'],
                         ['clip7', '0002']]
  assert sorted(os.listdir(tmp_path / 'out')) == ['detections.csv',
                                                  'tubes.json']


def test_keyframes_of_a_csv_keep_the_csv_timestamps(tmp_path, video):
  # AVA-style: the file starts at movie second 900; keyframes 901 and 902.5
  # are frames 10 and 25 of the file; rows of other videos are ignored.
  csv_path = tmp_path / 'gt.csv'
  csv_path.write_text('video_id,timestamp,x1,y1,x2,y2,action_id\n'
                      'walk,0902.5,0.1,0.1,0.5,0.5,1\n'
                      'other,0900,0.1,0.1,0.5,0.5,1\n'
                      'walk,0901,0.1,0.1,0.5,0.5,1\n'
                      'walk,0902.5,0.2,0.2,0.6,0.6,3\n'
                      'walk,0901\n', encoding='utf-8')
  timestamps = video_inference.read_keyframe_timestamps(str(csv_path),
                                                        'walk')
  assert timestamps == [901.0, 902.5]
  detector = _ScriptedDetector()
  summary = video_inference.run_inference(
      detector, video, video_inference.InferenceOptions(
          output_dir=str(tmp_path / 'out'), keyframe_timestamps=timestamps,
          timestamp_offset_seconds=900.0, render_video=False))
  assert [c[0][2] for c in detector.clips] == [10, 25]
  assert summary.keyframes == 2
  with open(summary.detections_csv_path, encoding='utf-8') as f:
    rows = f.read().splitlines()
  assert [row.split(',')[:3] for row in rows] == [
      ['walk', '0901', '0.100'], ['walk', '0901', '0.100'],
      ['walk', '0902.500', '0.250'], ['walk', '0902.500', '0.250']]


def test_reading_keyframe_timestamps_names_the_problem(tmp_path):
  csv_path = tmp_path / 'gt.csv'
  csv_path.write_text('a,1,0,0,1,1,1\nb,2,0,0,1,1,1\nb,x,0,0,1,1,1\n',
                      encoding='utf-8')
  with pytest.raises(ValueError, match=r"gt.csv: no row of video 'walk' \(it "
                     r"names 'a', 'b'\); the video id is the file name"):
    video_inference.read_keyframe_timestamps(str(csv_path), 'walk')
  with pytest.raises(ValueError, match=r"gt.csv:3: timestamp must be a "
                     r"number, got 'x'"):
    video_inference.read_keyframe_timestamps(str(csv_path), 'b')


def test_default_is_one_keyframe_per_second(tmp_path, video):
  detector = _ScriptedDetector()
  summary = video_inference.run_inference(
      detector, video, video_inference.InferenceOptions(
          output_dir=str(tmp_path), render_video=False))
  assert summary.keyframes == 3  # 0, 1 and 2 s of a 3 s video


def test_bad_videos_are_refused(tmp_path):
  options = video_inference.InferenceOptions(output_dir=str(tmp_path))
  with pytest.raises(video_io.VideoNotFoundError, match='missing.mp4'):
    video_inference.run_inference(_ScriptedDetector(),
                                  str(tmp_path / 'missing.mp4'), options)
  short = fx.write_video(str(tmp_path / 'short.avi'), num_frames=5)
  with pytest.raises(video_stream.VideoTooShortError,
                     match=r'short.avi: the video has 5 frames, fewer than '
                     r'the 7 frames one clip spans \(4 frames at stride 2\)'):
    video_inference.run_inference(_ScriptedDetector(), short, options)
  garbage = tmp_path / 'garbage.mp4'
  garbage.write_bytes(b'not a video')
  with pytest.raises(video_io.VideoReadError, match='garbage.mp4'):
    video_inference.run_inference(_ScriptedDetector(), str(garbage), options)
  assert not (tmp_path / 'rendered.mp4').exists()


def test_progress_estimates_time_left():
  progress = video_inference.InferenceProgress(2, 10, 4.0)
  assert progress.seconds_left == pytest.approx(16.0)
  assert video_inference.InferenceProgress(0, 10, 1.0).seconds_left is None


def test_whole_second_keyframes_at_29_97_fps(tmp_path):
  # Seconds 0..2 of a 29.97 fps video are frames 0, 30, 60 (frame 30 is
  # at 1.001 s, 60 at 2.002 s): the csv says 0000..0002, which the AVA
  # readers of both official releases key as whole seconds.
  video = fx.write_video(str(tmp_path / 'ntsc.avi'), num_frames=64,
                         fps=29.97)
  summary = video_inference.run_inference(
      _ScriptedDetector(), video, video_inference.InferenceOptions(
          output_dir=str(tmp_path / 'out'), render_video=False))
  assert summary.fps == pytest.approx(29.97, abs=1e-6)
  with open(summary.detections_csv_path) as f:
    rows = [line.split(',') for line in f.read().splitlines()]
  assert sorted({row[1] for row in rows}) == ['0000', '0001', '0002']
  # The box at x = t / 100 shows each row came from its nearest frame.
  assert {row[1]: row[2] for row in rows if row[6] == '1'} == {
      '0000': '0.000', '0001': '0.300', '0002': '0.600'}
  keys = ava_csv.read_keyframes(summary.detections_csv_path).all_keys
  assert keys == {f'ntsc,{s}.000000' for s in range(3)}
  keys = ava_csv.read_keyframes(
      summary.detections_csv_path,
      key_fn=ava_csv.ava_v21_key_from_row).all_keys
  assert keys == {f'ntsc,{s:04d}' for s in range(3)}
