"""rendering: drawn frames, the delayed streaming writer, keyframe PNGs."""

import os

import cv2
import numpy as np
import pytest

from acrn_tf.core import standard_fields
from acrn_tf.inference import rendering
from acrn_tf.visualization import heatmaps

_det = standard_fields.DetectionResultFields
LABELS = {1: 'catch', 2: 'throw'}
HEIGHT, WIDTH = 48, 64


def _detections(scores=(0.9, 0.3), with_heatmaps=True):
  scores = np.asarray(scores, np.float32)
  detections = {
      _det.detection_boxes: np.array([[0.25, 0.25, 0.75, 0.5],
                                      [0.0, 0.0, 0.2, 0.2]], np.float32),
      _det.detection_scores: scores,
      _det.detection_classes: np.array([1, 2]),
      _det.detection_multiclass_scores: np.array(
          [[scores[0], 0.6], [0.1, scores[1]]], np.float32),
  }
  if with_heatmaps:
    left = np.zeros((3, 4), np.float32)
    left[:, 0] = 1.0
    detections[_det.relation_heatmaps] = np.stack([left, left[:, ::-1]])
  return detections


def _frame(value=100):
  return np.full((HEIGHT, WIDTH, 3), value, np.uint8)


def test_box_label_lists_classes_above_min_score():
  detections = _detections()
  assert rendering.box_label(0, detections, [1, 2], LABELS, 0.5) == (
      'catch 0.90, throw 0.60')
  # None reaches min_score: the top class anyway.
  assert rendering.box_label(1, detections, [1, 2], LABELS, 0.5) == (
      'throw 0.30')


def test_render_frame_draws_shown_detections_only():
  frame = _frame()
  drawn = rendering.render_frame(frame, _detections(with_heatmaps=False),
                                 LABELS, min_score=0.5)
  assert np.array_equal(frame, _frame())  # not modified
  expected = heatmaps.draw_box_with_label(
      frame, [0.25, 0.25, 0.75, 0.5], 'catch 0.90, throw 0.60',
      color=rendering.class_color(1))
  np.testing.assert_array_equal(drawn, expected)
  assert np.array_equal(rendering.render_frame(frame, None, LABELS), frame)


def test_small_frames_are_enlarged_before_drawing():
  frame = _frame()
  drawn = rendering.render_frame(frame, _detections(with_heatmaps=False),
                                 LABELS, min_score=0.5, min_shorter_side=96)
  assert drawn.shape == (96, 128, 3)  # 48 x 64 scaled by 2, aspect kept
  expected = heatmaps.draw_box_with_label(
      np.full((96, 128, 3), 100, np.uint8), [0.25, 0.25, 0.75, 0.5],
      'catch 0.90, throw 0.60', color=rendering.class_color(1))
  np.testing.assert_array_equal(drawn, expected)
  # Large enough already: unchanged size.
  assert rendering.render_frame(frame, None, LABELS,
                                min_shorter_side=48).shape == frame.shape


def test_render_frame_blends_the_shown_detections_heat_maps():
  frame = _frame()
  drawn = rendering.render_frame(frame, _detections(), LABELS,
                                 min_score=0.5, heatmap_alpha=0.4)
  # Only detection 0 is shown: its map is hot on the left column.
  blended = heatmaps.blend_heatmap(frame, _detections()[
      _det.relation_heatmaps][0], alpha=0.4)
  expected = heatmaps.draw_box_with_label(
      blended, [0.25, 0.25, 0.75, 0.5], 'catch 0.90, throw 0.60',
      color=rendering.class_color(1))
  np.testing.assert_array_equal(drawn, expected)
  # Both shown: the element-wise maximum is hot at both sides.
  both = rendering.render_frame(frame, _detections(scores=(0.9, 0.8)),
                                LABELS, min_score=0.5)
  left = both[HEIGHT - 1, 0].astype(int)
  middle = both[HEIGHT - 1, WIDTH // 2].astype(int)
  right = both[HEIGHT - 1, WIDTH - 1].astype(int)
  np.testing.assert_array_equal(left, right)
  assert left[0] > middle[0] + 50 and left[2] < middle[2] - 50  # red, blue


def _read_video(path):
  capture = cv2.VideoCapture(path)
  frames = []
  while True:
    ok, frame = capture.read()
    if not ok:
      break
    frames.append(frame[..., ::-1])
  capture.release()
  return frames


def test_renderer_waits_for_keyframes_and_writes_every_frame(tmp_path):
  path = str(tmp_path / rendering.RENDERED_VIDEO_NAME)
  png_dir = str(tmp_path / 'keyframes')
  renderer = rendering.VideoRenderer(path, 10.0, [2, 6], LABELS,
                                     min_score=0.5, keyframes_dir=png_dir,
                                     keyframe_name_prefix='vid')
  with renderer:
    for number in range(2):  # before the first keyframe: written at once
      renderer.add_frame(number, _frame(number * 20))
    assert renderer.frames_written == 2
    for number in range(2, 5):
      renderer.add_frame(number, _frame(number * 20))
    assert renderer.frames_written == 2  # frames 2..4 wait for keyframe 2
    renderer.add_detections(2, _detections())
    assert renderer.frames_written == 5
    for number in range(5, 9):
      renderer.add_frame(number, _frame(number * 20))
    assert renderer.frames_written == 6  # 6..8 wait for keyframe 6
    renderer.add_detections(6, _detections(scores=(0.2, 0.1)))
    assert renderer.frames_written == 9
    assert not os.path.exists(path)  # still under its temporary name
  assert renderer.max_frames_pending == 3
  frames = _read_video(path)
  assert len(frames) == 9
  # Frame 3 shows keyframe 2's detection; frames 1 and 7 show none (7's
  # keyframe 6 has no score above 0.5). mp4v is lossy: compare by mean error.
  def error(a, b):
    return np.mean(np.abs(a.astype(float) - b.astype(float)))
  drawn = rendering.render_frame(_frame(60), _detections(), LABELS, 0.5)
  assert error(frames[3], drawn) < 15 < 30 < error(frames[3], _frame(60))
  assert error(frames[1], _frame(20)) < 4
  assert error(frames[7], _frame(140)) < 4
  assert sorted(os.listdir(png_dir)) == ['vid_000002.png', 'vid_000006.png']
  png = cv2.imread(os.path.join(png_dir, 'vid_000002.png'))[..., ::-1]
  np.testing.assert_array_equal(
      png, rendering.render_frame(_frame(40), _detections(), LABELS, 0.5))
  assert sorted(os.listdir(tmp_path)) == ['keyframes',
                                          rendering.RENDERED_VIDEO_NAME]


def test_renderer_flushes_frames_of_a_keyframe_that_never_came(tmp_path):
  path = str(tmp_path / 'out.mp4')
  with rendering.VideoRenderer(path, 10.0, [0, 4], LABELS) as renderer:
    renderer.add_frame(0, _frame())
    renderer.add_detections(0, _detections())
    for number in range(1, 6):
      renderer.add_frame(number, _frame())
  assert renderer.frames_written == 6
  assert len(_read_video(path)) == 6


def test_aborted_renderer_leaves_no_file(tmp_path):
  path = str(tmp_path / 'out.mp4')
  with pytest.raises(RuntimeError):
    with rendering.VideoRenderer(path, 10.0, [0], LABELS) as renderer:
      renderer.add_detections(0, _detections())
      renderer.add_frame(0, _frame())
      raise RuntimeError('stop')
  assert os.listdir(tmp_path) == []
