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
                                 LABELS, min_score=0.5, heatmap_panels=0)
  assert np.array_equal(frame, _frame())  # not modified
  expected = heatmaps.draw_box_with_label(
      frame, [0.25, 0.25, 0.75, 0.5], '#1 catch 0.90, throw 0.60',
      color=rendering.class_color(1))
  np.testing.assert_array_equal(drawn, expected)
  assert np.array_equal(
      rendering.render_frame(frame, None, LABELS, heatmap_panels=0), frame)


def test_small_frames_are_enlarged_before_drawing():
  frame = _frame()
  drawn = rendering.render_frame(frame, _detections(with_heatmaps=False),
                                 LABELS, min_score=0.5, min_shorter_side=96,
                                 heatmap_panels=0)
  assert drawn.shape == (96, 128, 3)  # 48 x 64 scaled by 2, aspect kept
  expected = heatmaps.draw_box_with_label(
      np.full((96, 128, 3), 100, np.uint8), [0.25, 0.25, 0.75, 0.5],
      '#1 catch 0.90, throw 0.60', color=rendering.class_color(1))
  np.testing.assert_array_equal(drawn, expected)
  # Large enough already: unchanged size.
  assert rendering.render_frame(frame, None, LABELS, min_shorter_side=48,
                                heatmap_panels=0).shape == frame.shape


def test_panel_grid_shape():
  assert rendering.panel_grid_shape(1, 48, 64) == (1, 1, 48, 64)
  assert rendering.panel_grid_shape(2, 48, 64) == (2, 1, 24, 32)
  assert rendering.panel_grid_shape(4, 48, 64) == (2, 2, 24, 32)
  assert rendering.panel_grid_shape(5, 49, 65) == (2, 3, 24, 32)
  with pytest.raises(ValueError, match='num_panels must be >= 1, got 0'):
    rendering.panel_grid_shape(0, 48, 64)
  # Twice as wide as high or wider: two columns below the frame.
  assert not rendering.panels_below(48, 95)
  assert rendering.panels_below(48, 96)
  assert rendering.panel_grid_shape(4, 48, 96) == (2, 2, 24, 48)
  assert rendering.panel_grid_shape(5, 48, 480) == (3, 2, 24, 240)
  assert rendering.panel_grid_shape(1, 48, 480) == (1, 1, 48, 480)


def _two_actors():
  """Listed second but best (#1: score 0.9, catch, the middle box), a map
  hot on the right column only; listed first (#2: 0.8, throw, the top-left
  box), a map hot on the left column only."""
  detections = _detections(scores=(0.9, 0.8))
  left = np.zeros((3, 4), np.float32)
  left[:, 0] = 1.0
  detections[_det.relation_heatmaps] = np.stack([left[:, ::-1], left])
  # Listed as (0.8, 0.9): the frame numbers them by score, 0.9 first.
  for key in (_det.detection_boxes, _det.detection_scores,
              _det.detection_classes, _det.detection_multiclass_scores,
              _det.relation_heatmaps):
    detections[key] = detections[key][::-1]
  detections[_det.detection_scores] = np.array([0.8, 0.9], np.float32)
  return detections


def test_each_actor_gets_its_own_heat_map_and_box_beside_the_frame():
  frame = _frame()
  detections = _two_actors()
  drawn = rendering.render_frame(frame, detections, LABELS, min_score=0.5,
                                 heatmap_alpha=0.4, heatmap_panels=4)
  # The frame (no heat map) and a 2 x 2 grid of 24 x 32 panels.
  assert drawn.shape == (HEIGHT, WIDTH + 2 * (WIDTH // 2), 3)
  boxes_only = rendering.render_frame(frame, detections, LABELS,
                                      min_score=0.5, heatmap_panels=0)
  np.testing.assert_array_equal(drawn[:, :WIDTH], boxes_only)
  # Panel k, worked out with the drawing helpers: actor k's map blended
  # over the frame, resized to the panel, then its own box and number.
  best, second = 1, 0  # indices into detections, by descending score
  labels = {best: '#1 catch 0.90, throw 0.60', second: '#2 throw 0.80'}
  for column, i in enumerate((best, second)):  # the top row, left to right
    expected = cv2.resize(
        heatmaps.blend_heatmap(frame, detections[_det.relation_heatmaps][i],
                               alpha=0.4), (WIDTH // 2, HEIGHT // 2),
        interpolation=cv2.INTER_AREA)
    expected = heatmaps.draw_box_with_label(
        expected, detections[_det.detection_boxes][i], labels[i],
        color=rendering.class_color(
            int(detections[_det.detection_classes][i])))
    panel = drawn[:24, WIDTH + column * 32:WIDTH + (column + 1) * 32]
    np.testing.assert_array_equal(panel, expected)
  # Each panel shows its own actor's map, not a mixture: #1's is hot (red)
  # on the right edge and cold (blue) on the left, #2's the other way.
  first = drawn[22, WIDTH:WIDTH + 32].astype(int)
  other = drawn[22, WIDTH + 32:].astype(int)
  assert first[-1][0] > first[0][0] + 50 and first[0][2] > first[-1][2] + 50
  assert other[0][0] > other[-1][0] + 50 and other[-1][2] > other[0][2] + 50
  # Panels of actors that are not there stay black.
  assert not drawn[24:, WIDTH:].any()


def test_one_panel_is_frame_sized_and_no_detections_leave_it_black():
  frame = _frame()
  drawn = rendering.render_frame(frame, _two_actors(), LABELS, min_score=0.5,
                                 heatmap_panels=1)
  assert drawn.shape == (HEIGHT, 2 * WIDTH, 3)
  expected = heatmaps.draw_box_with_label(
      heatmaps.blend_heatmap(frame, _two_actors()[_det.relation_heatmaps][1],
                             alpha=rendering.DEFAULT_HEATMAP_ALPHA),
      [0.25, 0.25, 0.75, 0.5], '#1 catch 0.90, throw 0.60',
      color=rendering.class_color(1))
  np.testing.assert_array_equal(drawn[:, WIDTH:], expected)
  empty = rendering.render_frame(frame, None, LABELS, heatmap_panels=1)
  np.testing.assert_array_equal(empty[:, :WIDTH], frame)
  assert not empty[:, WIDTH:].any()
  # A model without heat maps: the boxes, black panels.
  no_maps = rendering.render_frame(frame, _detections(with_heatmaps=False),
                                   LABELS, min_score=0.5, heatmap_panels=1)
  assert not no_maps[:, WIDTH:].any()


def test_a_wide_frame_gets_its_panels_below():
  wide = np.full((HEIGHT, 4 * WIDTH, 3), 100, np.uint8)
  detections = _two_actors()
  drawn = rendering.render_frame(wide, detections, LABELS, min_score=0.5,
                                 heatmap_panels=3)
  # The frame on top, then 2 rows of 2 panels of 24 x 128, each as wide as
  # half the frame.
  assert drawn.shape == (HEIGHT + 2 * (HEIGHT // 2), 4 * WIDTH, 3)
  boxes_only = rendering.render_frame(wide, detections, LABELS,
                                      min_score=0.5, heatmap_panels=0)
  np.testing.assert_array_equal(drawn[:HEIGHT], boxes_only)
  # #2 (the second panel) sits top right under the frame.
  expected = cv2.resize(
      heatmaps.blend_heatmap(wide, detections[_det.relation_heatmaps][0],
                             alpha=rendering.DEFAULT_HEATMAP_ALPHA),
      (2 * WIDTH, HEIGHT // 2), interpolation=cv2.INTER_AREA)
  expected = heatmaps.draw_box_with_label(
      expected, detections[_det.detection_boxes][0], '#2 throw 0.80',
      color=rendering.class_color(2))
  np.testing.assert_array_equal(
      drawn[HEIGHT:HEIGHT + 24, 2 * WIDTH:], expected)
  # Two actors: the third panel and the fourth place stay black.
  assert not drawn[HEIGHT + 24:].any()


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
                                     keyframe_name_prefix='vid',
                                     heatmap_panels=1)
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
  def plain(value):  # the frame and an empty (black) heat-map panel
    return rendering.render_frame(_frame(value), None, LABELS,
                                  heatmap_panels=1)
  assert plain(60).shape == (HEIGHT, 2 * WIDTH, 3)
  drawn = rendering.render_frame(_frame(60), _detections(), LABELS, 0.5,
                                 heatmap_panels=1)
  assert error(frames[3], drawn) < 15 < 30 < error(frames[3], plain(60))
  assert error(frames[1], plain(20)) < 4
  assert error(frames[7], plain(140)) < 4
  assert sorted(os.listdir(png_dir)) == ['vid_000002.png', 'vid_000006.png']
  png = cv2.imread(os.path.join(png_dir, 'vid_000002.png'))[..., ::-1]
  np.testing.assert_array_equal(
      png, rendering.render_frame(_frame(40), _detections(), LABELS, 0.5,
                                  heatmap_panels=1))
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
