"""How a synthetic scene looks: background, stick-figure actors and balls.

Renders a `synthetic_scene.Scene` to RGB uint8 frames with OpenCV's
antialiased drawing at sub-pixel precision. Every actor is drawn the same way
whatever it does: the class of an actor never changes its figure, only what
happens around it.
"""

import math
from typing import Optional

import cv2
import numpy as np

from acrn_tf.data.synthetic import synthetic_figure
from acrn_tf.data.synthetic import synthetic_scene

# OpenCV drawing takes fixed-point coordinates with this many fractional bits.
_SHIFT = 4
_SCALE = 1 << _SHIFT
_HEAD_MARK_RGB = (20, 20, 20)


def _fixed(point):
  """Continuous (x, y) pixels -> OpenCV fixed-point pixel-centre coordinates."""
  return (int(round((point[0] - 0.5) * _SCALE)),
          int(round((point[1] - 0.5) * _SCALE)))


def _fixed_length(length):
  return max(1, int(round(length * _SCALE)))


def render_background(scene: synthetic_scene.Scene) -> np.ndarray:
  """The static background of a scene, random per video.

  A wall and a floor of muted colours split at a random horizon, with smooth
  large-scale blotches and fine pixel noise on top, all from
  scene.background_seed.

  Returns:
    [height, width, 3] uint8 RGB.
  """
  rng = np.random.default_rng(scene.background_seed)
  height, width = scene.height, scene.width
  wall = np.array(synthetic_figure.hsv_to_rgb(
      rng.random(), rng.uniform(0.08, 0.3), rng.uniform(0.55, 0.8)), float)
  floor = np.array(synthetic_figure.hsv_to_rgb(
      rng.random(), rng.uniform(0.08, 0.3), rng.uniform(0.45, 0.7)), float)
  horizon = rng.uniform(0.25, 0.5) * height
  rows = np.arange(height)[:, None, None] + 0.5
  blend = np.clip((rows - horizon) / 3.0 + 0.5, 0.0, 1.0)
  image = np.broadcast_to((1 - blend) * wall + blend * floor,
                          (height, width, 3)).copy()
  coarse = rng.normal(0.0, 1.0, (height // 12 + 2, width // 12 + 2, 3))
  coarse[..., 1:] = 0.3 * coarse[..., 1:] + 0.7 * coarse[..., :1]
  image += 16.0 * cv2.resize(coarse, (width, height),
                             interpolation=cv2.INTER_CUBIC)
  image += rng.normal(0.0, 5.0, (height, width, 1))
  return np.clip(np.round(image), 0, 255).astype(np.uint8)


def _draw_figure(canvas, pose, body_colour, skin_colour, mark_colour):
  """Draws one figure (limbs, torso, head, head mark) in place."""
  thickness = int(round(pose.limb_thickness))
  for start, end in pose.limbs:
    cv2.line(canvas, _fixed(start), _fixed(end), body_colour, thickness,
             cv2.LINE_AA, _SHIFT)
  cv2.ellipse(canvas, _fixed(pose.torso_center),
              (_fixed_length(pose.torso_half_size[0] - 0.5),
               _fixed_length(pose.torso_half_size[1] - 0.5)),
              0, 0, 360, body_colour, -1, cv2.LINE_AA, _SHIFT)
  radius = pose.head_radius
  cv2.circle(canvas, _fixed(pose.head_center), _fixed_length(radius - 0.5),
             skin_colour, -1, cv2.LINE_AA, _SHIFT)
  # The head mark: a dark stroke from the head's centre towards its edge.
  (cx, cy), direction = pose.head_center, pose.head_direction
  reach = radius - 1.0
  tip = (cx + reach * math.cos(direction), cy + reach * math.sin(direction))
  cv2.line(canvas, _fixed(pose.head_center), _fixed(tip), mark_colour,
           max(1, int(round(0.5 * radius))), cv2.LINE_AA, _SHIFT)


def _draw_ball(canvas, ball, frame_index):
  center = ball.center_xy[frame_index]
  edge = tuple(int(0.55 * c) for c in ball.rgb)
  cv2.circle(canvas, _fixed(center), _fixed_length(ball.radius - 0.5), edge,
             -1, cv2.LINE_AA, _SHIFT)
  cv2.circle(canvas, _fixed(center), _fixed_length(ball.radius - 1.2),
             ball.rgb, -1, cv2.LINE_AA, _SHIFT)


def render_frame(scene: synthetic_scene.Scene, frame_index: int,
                 background: Optional[np.ndarray] = None) -> np.ndarray:
  """Draws one frame: background, actors from back to front, then balls.

  Args:
    scene: the scene.
    frame_index: 0-based frame.
    background: render_background(scene), passed in to avoid recomputing it.

  Returns:
    [height, width, 3] uint8 RGB.
  """
  if background is None:
    background = render_background(scene)
  frame = background.copy()
  order = sorted(range(len(scene.actors)),
                 key=lambda i: scene.actors[i].feet_xy[frame_index][1])
  for i in order:
    actor = scene.actors[i]
    _draw_figure(frame, synthetic_figure.figure_pose(actor, frame_index),
                 actor.clothing_rgb, actor.skin_rgb, _HEAD_MARK_RGB)
  for ball in scene.balls:
    _draw_ball(frame, ball, frame_index)
  return frame


def render_video(scene: synthetic_scene.Scene) -> np.ndarray:
  """All frames of a scene.

  Returns:
    [num_frames, height, width, 3] uint8 RGB.
  """
  background = render_background(scene)
  return np.stack([render_frame(scene, f, background)
                   for f in range(scene.num_frames)])


def render_actor_mask(scene: synthetic_scene.Scene, actor_index: int,
                      frame_index: int,
                      min_coverage: float = 0.25) -> np.ndarray:
  """The pixels one actor covers in a frame, drawn alone.

  Args:
    scene: the scene.
    actor_index: which actor.
    frame_index: 0-based frame.
    min_coverage: the smallest antialiased coverage (fraction of a pixel, in
      (0, 1]) that counts as covered.

  Returns:
    [height, width] bool, True where the figure covers at least
    `min_coverage` of the pixel.
  """
  canvas = np.zeros((scene.height, scene.width), np.uint8)
  pose = synthetic_figure.figure_pose(scene.actors[actor_index], frame_index)
  _draw_figure(canvas, pose, 255, 255, 255)
  return canvas >= max(1, int(round(255 * min_coverage)))
