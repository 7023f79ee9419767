"""The synthetic renderer: frames, figures inside their boxes, balls drawn."""

import dataclasses

import numpy as np
import pytest

from acrn_tf.data.synthetic import synthetic_config
from acrn_tf.data.synthetic import synthetic_figure
from acrn_tf.data.synthetic import synthetic_render
from acrn_tf.data.synthetic import synthetic_scene

_CONFIG = dataclasses.replace(synthetic_config.PRESETS['tiny'],
                              duration_seconds=3)


@pytest.fixture(scope='module')
def scenes():
  return [synthetic_scene.sample_scene(np.random.default_rng([1, i]), _CONFIG)
          for i in range(6)]


def test_render_video_shape_and_determinism(scenes):
  video = synthetic_render.render_video(scenes[0])
  assert video.shape == (30, 96, 128, 3) and video.dtype == np.uint8
  np.testing.assert_array_equal(video,
                                synthetic_render.render_video(scenes[0]))
  assert not np.array_equal(video[0],
                            synthetic_render.render_video(scenes[1])[0])


def test_background_is_static_and_textured(scenes):
  background = synthetic_render.render_background(scenes[0])
  assert background.shape == (96, 128, 3)
  assert background.std() > 3.0      # noise, not a flat colour
  frame = synthetic_render.render_frame(scenes[0], 5, background)
  drawn = np.zeros((96, 128), bool)
  for index in range(len(scenes[0].actors)):
    drawn |= synthetic_render.render_actor_mask(scenes[0], index, 5,
                                                min_coverage=1 / 255)
  for ball in scenes[0].balls:
    x, y = ball.center_xy[5]
    rows, cols = np.mgrid[:96, :128]
    drawn |= np.hypot(cols + 0.5 - x, rows + 0.5 - y) < ball.radius + 1.5
  # Outside every figure and ball the frame is the background.
  np.testing.assert_array_equal(frame[~drawn], background[~drawn])
  assert np.any(frame[drawn] != background[drawn])


def test_actor_pixels_lie_inside_its_box_and_fill_it(scenes):
  for scene in scenes:
    for frame_index in (5, 10, 20):
      for index, actor in enumerate(scene.actors):
        mask = synthetic_render.render_actor_mask(scene, index, frame_index)
        rows, cols = np.nonzero(mask)
        assert rows.size > 30
        ymin, xmin, ymax, xmax = synthetic_figure.actor_box_absolute(
            actor, frame_index)
        # Pixel (row i, column j) covers [j, j + 1) x [i, i + 1).
        assert rows.min() >= np.floor(ymin) and rows.max() + 1 <= np.ceil(
            ymax)
        assert cols.min() >= np.floor(xmin) and cols.max() + 1 <= np.ceil(
            xmax)
        # Tight: the figure reaches within 2 px of every side.
        assert rows.min() - ymin < 2 and ymax - (rows.max() + 1) < 2
        assert cols.min() - xmin < 2 and xmax - (cols.max() + 1) < 2


def test_balls_are_drawn_on_top_in_their_colour(scenes):
  checked = 0
  for scene in scenes:
    frame = synthetic_render.render_frame(scene, 10)
    for ball in scene.balls:
      x, y = ball.center_xy[10]
      if 0 <= x < scene.width and 0 <= y < scene.height:
        np.testing.assert_array_equal(frame[int(y), int(x)], ball.rgb)
        checked += 1
  assert checked >= 3


def test_head_mark_follows_the_head_direction(scenes):
  scene = scenes[0]
  actor = scene.actors[0]
  pose = synthetic_figure.figure_pose(actor, 15)
  hx, hy = pose.head_center
  reach = pose.head_radius - 1.5
  looks = []
  for direction in (0.0, np.pi):
    turned = dataclasses.replace(
        actor, head_direction=np.full_like(actor.head_direction, direction))
    one = dataclasses.replace(scene, actors=(turned,), balls=())
    frame = synthetic_render.render_frame(
        one, 15, np.full((96, 128, 3), 255, np.uint8)).astype(int)
    right = frame[int(hy), int(hx + reach)].sum()
    left = frame[int(hy), int(hx - reach)].sum()
    looks.append(right < left)     # the dark mark is on the facing side
  assert looks == [True, False]
