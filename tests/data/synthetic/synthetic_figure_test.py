"""The stick figure: outline, box, chest and head points, colours."""

import math

import numpy as np
import pytest

from acrn_tf.data.synthetic import synthetic_figure


def _actor(x=50.0, y=80.0, height=30.0, arm_angle=0.5, leg_spread=0.08):
  return synthetic_figure.Actor(
      feet_xy=np.array([[x, y]]), height=height, clothing_rgb=(60, 40, 90),
      skin_rgb=(220, 170, 150), arm_angles=np.full((1, 2), arm_angle),
      leg_spread=np.full(1, leg_spread), head_direction=np.zeros(1))


def test_actor_box_worked_by_hand():
  # Feet (50, 80), height 30: head top at y=50; limbs 2 px wide, the feet's
  # line ends at y=79. The right arm (shoulder 3.6 px out, 9 px long at
  # 0.5 rad) ends at x = 50 + 3.6 + 9 sin(0.5). Lines reach half their width
  # + 0.75 px past their ends (antialiasing), and the box has a 1 px margin.
  box = synthetic_figure.actor_box_absolute(_actor(), 0)
  reach = 3.6 + 9 * math.sin(0.5) + 1 + 0.75 + 1
  np.testing.assert_allclose(box, [49.0, 50 - reach, 79 + 1.75 + 1,
                                   50 + reach])


def test_pose_points_worked_by_hand():
  actor = _actor()
  pose = synthetic_figure.figure_pose(actor, 0)
  # Head radius 0.13 * 30 = 3.9, centred 3.9 below the top (y=50).
  assert pose.head_center == pytest.approx((50.0, 53.9))
  assert pose.head_radius == pytest.approx(3.9)
  np.testing.assert_allclose(synthetic_figure.head_xy(actor, 0), [50, 53.9])
  # The chest, where a held ball sits, 0.38 * 30 = 11.4 below the top.
  np.testing.assert_allclose(synthetic_figure.chest_xy(actor), [[50, 61.4]])
  assert pose.limb_thickness == 2.0
  assert len(pose.limbs) == 4


@pytest.mark.parametrize('arm_angle', synthetic_figure.ARM_ANGLE_RANGE)
@pytest.mark.parametrize('leg_spread', synthetic_figure.LEG_SPREAD_RANGE)
@pytest.mark.parametrize('height', [20.0, 30.0, 45.0])
def test_max_box_extent_bounds_every_pose(arm_angle, leg_spread, height):
  half_width, above, below = synthetic_figure.max_box_extent(height)
  ymin, xmin, ymax, xmax = synthetic_figure.actor_box_absolute(
      _actor(height=height, arm_angle=arm_angle, leg_spread=leg_spread), 0)
  assert xmin >= 50 - half_width - 1e-9 and xmax <= 50 + half_width + 1e-9
  assert ymin >= 80 - above - 1e-9 and ymax <= 80 + below + 1e-9
  if arm_angle == synthetic_figure.ARM_ANGLE_RANGE[1]:
    assert xmax == pytest.approx(50 + half_width)   # arms fully out


def test_hsv_to_rgb():
  assert synthetic_figure.hsv_to_rgb(0.0, 1.0, 1.0) == (255, 0, 0)
  assert synthetic_figure.hsv_to_rgb(1 / 3, 1.0, 1.0) == (0, 255, 0)
  assert synthetic_figure.hsv_to_rgb(2 / 3, 1.0, 0.5) == (0, 0, 128)
  assert synthetic_figure.hsv_to_rgb(0.5, 0.0, 0.2) == (51, 51, 51)


def test_max_box_extent_with_an_arm_pointing_sideways():
  # Shoulder 0.12 h out, arm 0.30 h long and horizontal: reach 0.42 h, plus
  # half the 2 px line, the antialiasing 0.75 px and the 1 px box margin.
  half_width, _, _ = synthetic_figure.max_box_extent(30.0, math.pi / 2)
  assert half_width == pytest.approx(0.42 * 30 + 1 + 0.75 + 1)
  _, xmin, _, xmax = synthetic_figure.actor_box_absolute(
      _actor(arm_angle=math.pi / 2), 0)
  assert xmax == pytest.approx(50 + half_width)
  assert xmin == pytest.approx(50 - half_width)
