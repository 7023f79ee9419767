"""The stick-figure actor: its proportions, outline and bounding box.

Every actor of the synthetic dataset is this one figure (a round head with a
mark pointing where it faces, an elliptic torso, two arms, two legs), scaled
to its height and posed by a few numbers drawn independently of what it
does. `synthetic_scene` moves actors around and `synthetic_render` draws
them from `figure_pose`. Coordinates are continuous pixels with the origin
at the frame's top-left corner: pixel (row i, column j) covers
[j, j + 1) x [i, i + 1). Points are (x, y); boxes are [ymin, xmin, ymax, xmax].
"""

import dataclasses
import math
from typing import Tuple

import numpy as np

RGB = Tuple[int, int, int]
Point = Tuple[float, float]

# Figure proportions, as fractions of the actor's height (feet to head top).
_HEAD_RADIUS = 0.13
_NECK = 0.26            # from the top
_HIP = 0.64
_TORSO_HALF_WIDTH = 0.15
_CHEST = 0.38           # where a held ball sits, from the top
_SHOULDER_DX = 0.12
_ARM_LENGTH = 0.30
_HIP_DX = 0.06
_LIMB_THICKNESS = 0.07
# Pose ranges the scene sampler draws from, the same for every actor: each
# arm's angle from hanging straight down (radians), each foot's horizontal
# offset (fraction of the height).
ARM_ANGLE_RANGE = (math.radians(15), math.radians(60))
LEG_SPREAD_RANGE = (0.04, 0.12)
# Antialiased drawing covers pixels past the geometric outline: a quarter of
# a pixel or more up to _BOX_PAD beyond shapes and _LINE_AA_EXTRA + _BOX_PAD
# beyond the sides and ends of thick lines (measured on OpenCV's LINE_AA).
_BOX_PAD = 1.0
_LINE_AA_EXTRA = 0.75


@dataclasses.dataclass(frozen=True)
class Actor:
  """One person: where it stands and how it poses in every frame.

  Attributes:
    feet_xy: [num_frames, 2] float, the point between the feet, (x, y)
      absolute pixels.
    height: pixels from the feet to the top of the head.
    clothing_rgb, skin_rgb: colours of the body and limbs, of the head.
    arm_angles: [num_frames, 2] float radians, left and right arm, measured
      from hanging straight down, outwards.
    leg_spread: [num_frames] float, horizontal offset of each foot from
      feet_xy as a fraction of `height`.
    head_direction: [num_frames] float radians in image coordinates (0 points
      right, pi / 2 points down): where the head mark points.
  """
  feet_xy: np.ndarray
  height: float
  clothing_rgb: RGB
  skin_rgb: RGB
  arm_angles: np.ndarray
  leg_spread: np.ndarray
  head_direction: np.ndarray


@dataclasses.dataclass(frozen=True)
class FigurePose:
  """The drawable outline of one actor in one frame (absolute pixels)."""
  head_center: Point
  head_radius: float
  head_direction: float
  torso_center: Point
  torso_half_size: Point
  limbs: Tuple[Tuple[Point, Point], ...]
  limb_thickness: float


def _limb_thickness(height: float) -> float:
  """Limb line width in whole pixels (what OpenCV draws)."""
  return float(max(2, round(_LIMB_THICKNESS * height)))


def figure_pose(actor: Actor, frame_index: int) -> FigurePose:
  """The outline of `actor` at `frame_index`: head, torso, arms and legs."""
  h = actor.height
  fx, fy = (float(v) for v in actor.feet_xy[frame_index])
  top = fy - h
  neck, hip = top + _NECK * h, top + _HIP * h
  shoulder_y = neck + 0.05 * h
  left_angle, right_angle = actor.arm_angles[frame_index]
  arm = _ARM_LENGTH * h
  spread = actor.leg_spread[frame_index] * h
  thickness = _limb_thickness(h)
  foot_y = fy - thickness / 2
  limbs = (
      ((fx - _SHOULDER_DX * h, shoulder_y),
       (fx - _SHOULDER_DX * h - arm * math.sin(left_angle),
        shoulder_y + arm * math.cos(left_angle))),
      ((fx + _SHOULDER_DX * h, shoulder_y),
       (fx + _SHOULDER_DX * h + arm * math.sin(right_angle),
        shoulder_y + arm * math.cos(right_angle))),
      ((fx - _HIP_DX * h, hip), (fx - spread, foot_y)),
      ((fx + _HIP_DX * h, hip), (fx + spread, foot_y)),
  )
  return FigurePose(
      head_center=(fx, top + _HEAD_RADIUS * h),
      head_radius=_HEAD_RADIUS * h,
      head_direction=float(actor.head_direction[frame_index]),
      torso_center=(fx, (neck + hip) / 2),
      torso_half_size=(_TORSO_HALF_WIDTH * h, (hip - neck) / 2),
      limbs=limbs,
      limb_thickness=thickness)


def actor_box_absolute(actor: Actor, frame_index: int) -> np.ndarray:
  """The actor's bounding box, unclipped absolute pixels.

  Returns:
    [4] float64 [ymin, xmin, ymax, xmax] enclosing every pixel the renderer
    draws for the figure (the head mark stays inside the head).
  """
  pose = figure_pose(actor, frame_index)
  (hx, hy), r = pose.head_center, pose.head_radius
  (tx, ty), (ax, ay) = pose.torso_center, pose.torso_half_size
  xs = [hx - r, hx + r, tx - ax, tx + ax]
  ys = [hy - r, hy + r, ty - ay, ty + ay]
  half = pose.limb_thickness / 2 + _LINE_AA_EXTRA
  for (x0, y0), (x1, y1) in pose.limbs:
    xs += [x0 - half, x0 + half, x1 - half, x1 + half]
    ys += [y0 - half, y0 + half, y1 - half, y1 + half]
  return np.array([min(ys) - _BOX_PAD, min(xs) - _BOX_PAD,
                   max(ys) + _BOX_PAD, max(xs) + _BOX_PAD])


def chest_xy(actor: Actor) -> np.ndarray:
  """[num_frames, 2] float: where the actor holds a ball, absolute (x, y)."""
  return actor.feet_xy - np.array([0.0, (1.0 - _CHEST) * actor.height])


def head_xy(actor: Actor, frame_index: int) -> np.ndarray:
  """[2] float: the centre of the actor's head, absolute (x, y)."""
  return actor.feet_xy[frame_index] - np.array(
      [0.0, (1.0 - _HEAD_RADIUS) * actor.height])


def max_box_extent(height: float, max_arm_angle: float = ARM_ANGLE_RANGE[1]
                   ) -> Tuple[float, float, float]:
  """How far any figure's box can reach from its feet point, in pixels.

  Args:
    height: the actor's height in pixels.
    max_arm_angle: the largest arm angle from hanging down, radians, at most
      pi / 2 (an arm pointing sideways, as in the stage layout).

  Returns:
    (half_width, above_feet, below_feet): the box of a figure of this height
    in any pose lies within [x - half_width, x + half_width] x
    [y - above_feet, y + below_feet] of its feet point (x, y).
  """
  thickness = _limb_thickness(height)
  half_width = (_SHOULDER_DX + _ARM_LENGTH * math.sin(max_arm_angle)) * (
      height) + thickness / 2 + _LINE_AA_EXTRA + _BOX_PAD
  return half_width, height + _BOX_PAD, _LINE_AA_EXTRA + _BOX_PAD


def hsv_to_rgb(h: float, s: float, v: float) -> RGB:
  """Hue in [0, 1), saturation and value in [0, 1] to 0..255 RGB."""
  i = int(h * 6) % 6
  f = h * 6 - int(h * 6)
  p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
  r, g, b = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v),
             (v, p, q)][i]
  return (int(round(r * 255)), int(round(g * 255)), int(round(b * 255)))
