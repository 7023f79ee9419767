"""The stage layout: separated actors, paired passes and throws, facing."""

import collections
import dataclasses
import math

import numpy as np
import pytest

from acrn_tf.data.synthetic import synthetic_config
from acrn_tf.data.synthetic import synthetic_figure
from acrn_tf.data.synthetic import synthetic_scene
from acrn_tf.data.synthetic import synthetic_stage

_STAGE = synthetic_config.PRESETS['stage']
_SEPARATION = _STAGE.min_actor_separation_px
# Measured with tools/receptive_field.py on configs/synthetic/acrn_tiny.config
# at 96 x 960 (docs/synthetic_dataset.md): a Mixed_4f unit at map column c
# depends on input columns 16 c - 102 .. 16 c + 132 (235 px), and the RoI
# crop interpolates between map columns floor(x / 16) and floor(x / 16) + 1
# of a box edge x, so a crop depends on columns up to 118 px left of its box
# and 148 px right of it.
_CROP_REACH_LEFT, _CROP_REACH_RIGHT = 118.0, 148.0


@pytest.fixture(scope='module')
def scenes():
  return [synthetic_scene.sample_scene(np.random.default_rng([5, i]), _STAGE)
          for i in range(30)]


def _feet_x(scene):
  return np.array([a.feet_xy[0, 0] for a in scene.actors])


def _keyframe(scene, timestamp):
  return next(k for k in scene.keyframes if k.timestamp == timestamp)


def test_same_generator_state_gives_the_same_scene():
  first = synthetic_scene.sample_scene(np.random.default_rng(2), _STAGE)
  again = synthetic_scene.sample_scene(np.random.default_rng(2), _STAGE)
  assert first.keyframes == again.keyframes and first.events == again.events
  for a, b in zip(first.balls, again.balls):
    np.testing.assert_array_equal(a.center_xy, b.center_xy)


def test_place_xs_fill_the_row_and_shift_it():
  # 500 - 2 x 100 = 300 px of row: places 0, 150 and 300 px along it, no
  # room left to shift.
  config = dataclasses.replace(_STAGE, frame_width=500, stage_edge_margin_px=
                               100.0, min_actor_separation_px=150.0)
  np.testing.assert_allclose(
      synthetic_stage.place_xs(np.random.default_rng(0), config),
      [100.0, 250.0, 400.0])
  # The preset: 960 - 2 x 192 = 576 px, four places 176 px apart and 48 px
  # of room to shift them by.
  shifts = []
  for seed in range(20):
    places = synthetic_stage.place_xs(np.random.default_rng(seed), _STAGE)
    np.testing.assert_allclose(np.diff(places), [_SEPARATION] * 3)
    shifts.append(places[0] - _STAGE.stage_edge_margin_px)
  assert 0 <= min(shifts) and max(shifts) <= 48 and np.ptp(shifts) > 20


def _place_index(x):
  """Which place of the row `x` is (the row's shift is less than a place)."""
  return int((x - _STAGE.stage_edge_margin_px) // _SEPARATION)


def test_actors_stand_still_on_one_line_far_apart(scenes):
  for scene in scenes:
    assert len(scene.actors) == 3
    feet = np.stack([a.feet_xy for a in scene.actors])    # [3, frames, 2]
    assert np.ptp(feet, axis=1).max() == 0                # standing still
    assert np.ptp(feet[:, 0, 1]) <= 3.0                   # one ground line
    x = feet[:, 0, 0]
    for i in range(3):
      for j in range(i + 1, 3):
        assert abs(x[i] - x[j]) >= _SEPARATION - 1e-9
    assert x.min() >= _STAGE.stage_edge_margin_px
    assert x.max() <= _STAGE.frame_width - _STAGE.stage_edge_margin_px
    for actor in scene.actors:
      for frame in range(0, scene.num_frames, 5):
        ymin, xmin, ymax, xmax = synthetic_figure.actor_box_absolute(actor,
                                                                     frame)
        assert ymin >= 0 and ymax <= scene.height


def test_every_partner_and_edge_lies_outside_the_crops_receptive_field(scenes):
  # Worst case over the preset's geometry: the crop of an actor reaches
  # _CROP_REACH_* past its box; the partner's centre (where a pass lands,
  # where look_at's partner stands) stays outside it, and so does each frame
  # edge (it would tell an actor at the end of the line where nobody is).
  height = _STAGE.actor_height_fraction * _STAGE.frame_height * 1.1
  half_width, _, _ = synthetic_figure.max_box_extent(height, math.pi / 2)
  assert _SEPARATION > half_width + _CROP_REACH_RIGHT
  assert _STAGE.stage_edge_margin_px > half_width + _CROP_REACH_RIGHT
  for scene in scenes:
    for actor in scene.actors:
      for frame in (10, 40):
        _, xmin, _, xmax = synthetic_figure.actor_box_absolute(actor, frame)
        reach = (xmin - _CROP_REACH_LEFT, xmax + _CROP_REACH_RIGHT)
        assert reach[0] > 0 and reach[1] < scene.width
        for other in scene.actors:
          if other is not actor:
            assert not reach[0] <= other.feet_xy[frame, 0] <= reach[1]


def test_every_pass_comes_with_a_throw_away_by_another_actor(scenes):
  num_passes = 0
  for scene in scenes:
    for event in scene.events:
      if event.kind != 'pass':
        continue
      num_passes += 1
      away = [e for e in scene.events if e.kind == 'throw_away' and
              e.timestamp == event.timestamp]
      assert len(away) == 1
      assert away[0].thrower not in (event.thrower, event.receiver)
      assert (away[0].release_frame, away[0].arrival_frame) == (
          event.release_frame, event.arrival_frame)
      labels = _keyframe(scene, event.timestamp).labels
      assert set(labels[event.thrower]) >= {'throw', 'pass'}
      assert 'throw' in labels[away[0].thrower]
      assert 'pass' not in labels[away[0].thrower]
    # And no throw to nobody without a pass beside it.
    passes = {e.timestamp for e in scene.events if e.kind == 'pass'}
    assert {e.timestamp for e in scene.events
            if e.kind == 'throw_away'} == passes
  assert num_passes >= 60


def _flight(scene, event):
  """Start, end, distance and the frames in between of an event's ball."""
  ball = scene.balls[event.ball_index]
  start = ball.center_xy[event.release_frame]
  end = ball.center_xy[event.arrival_frame]
  return start, end, float(np.hypot(*(end - start))), ball.center_xy[
      event.release_frame:event.arrival_frame + 1]


def test_passes_and_throws_away_fly_alike_one_place_far(scenes):
  heights = collections.defaultdict(list)
  for scene in scenes:
    for event in scene.events:
      if event.kind not in ('pass', 'throw_away'):
        continue
      start, end, distance, path = _flight(scene, event)
      thrower = scene.actors[event.thrower]
      np.testing.assert_allclose(
          start, synthetic_figure.chest_xy(thrower)[event.release_frame])
      # Both end at the height of a chest: actors' heights differ by up to
      # 0.2 x 33.6 px (chest 0.62 of it below the head's top), their feet by
      # up to 3 px.
      assert abs(end[1] - start[1]) <= 0.62 * 0.2 * 33.6 + 3.0 + 1e-6
      heights[event.kind].append(end[1] - start[1])
      # One place along the row, either way.
      assert abs(end[0] - start[0]) == pytest.approx(_SEPARATION)
      assert event.arrival_frame - event.release_frame == (
          2 * _STAGE.flight_half_frames)
      # The same arc: the height above the straight line at mid flight is
      # 0.15 of the distance.
      middle = path[len(path) // 2]
      line = start + 0.5 * (end - start)
      assert line[1] - middle[1] == pytest.approx(0.15 * distance, abs=1e-6)
  assert len(heights['pass']) == len(heights['throw_away']) >= 40
  assert abs(np.std(heights['pass']) - np.std(heights['throw_away'])) < 0.6


def test_throws_away_land_in_free_air_far_from_every_actor(scenes):
  for scene in scenes:
    feet_x = _feet_x(scene)
    for event in scene.events:
      if event.kind != 'throw_away':
        continue
      ball = scene.balls[event.ball_index]
      x, y = ball.center_xy[event.arrival_frame]
      assert np.min(np.abs(feet_x - x)) >= _SEPARATION - 1e-9
      # On an empty place of the row, where an actor could have stood.
      assert (_STAGE.stage_edge_margin_px - 1e-6 <= x <=
              scene.width - _STAGE.stage_edge_margin_px + 1e-6)
      assert abs(x - feet_x[event.thrower]) == pytest.approx(_SEPARATION)
      assert ball.holder[event.arrival_frame] == -1
      # Then it falls to the ground and rests there.
      ground = scene.actors[event.thrower].feet_xy[0, 1] - ball.radius
      rest = ball.center_xy[event.arrival_frame + 3]
      assert rest[0] == x and rest[1] == pytest.approx(ground)
      assert y < rest[1]


def test_no_pass_flies_past_a_third_actor(scenes):
  for scene in scenes:
    feet_x = _feet_x(scene)
    for event in scene.events:
      if event.kind == 'pass':
        low, high = sorted(feet_x[[event.thrower, event.receiver]])
        assert not np.any((feet_x > low) & (feet_x < high))


def test_balls_chain_from_window_to_window(scenes):
  for scene in scenes:
    for event in scene.events:
      ball = scene.balls[event.ball_index]
      before = ball.holder[event.release_frame]
      if event.kind == 'incoming':
        assert before == -1      # it lay on the floor
      else:
        assert before == event.thrower
      after = ball.holder[event.arrival_frame]
      assert after == (event.receiver if event.kind != 'hold'
                       else event.thrower)
    for ball in scene.balls:
      # Long return flights arc no higher than the frame's top.
      assert np.all(ball.center_xy[:, 1] >= ball.radius - 1e-9)
      for frame in np.flatnonzero(ball.holder >= 0):
        chest = synthetic_figure.chest_xy(scene.actors[ball.holder[frame]])
        np.testing.assert_allclose(ball.center_xy[frame], chest[frame])


def test_look_at_follows_the_facing_and_who_stands_next(scenes):
  for scene in scenes:
    feet_x = _feet_x(scene)
    for keyframe in scene.keyframes:
      for i, labels in enumerate(keyframe.labels):
        actor = scene.actors[i]
        direction = actor.head_direction[keyframe.frame_index]
        faces_right = math.cos(direction) > 0
        assert direction in (0.0, math.pi)
        # The arm on the facing side points sideways (arms are left, right).
        arm = actor.arm_angles[keyframe.frame_index, int(faces_right)]
        assert arm == pytest.approx(math.pi / 2)
        gaps = feet_x - feet_x[i] if faces_right else feet_x[i] - feet_x
        somebody = np.any((gaps > 0) & (gaps <= _STAGE.look_range_px))
        assert ('look_at' in labels) == somebody


def test_the_actors_looked_at_are_the_look_at_partners_in_range(scenes):
  for scene in scenes[:20]:
    assert scene.look_range_px == 264.0
    for keyframe in scene.keyframes:
      for index, labels in enumerate(keyframe.labels):
        looked = synthetic_scene.looked_at(scene.actors, index,
                                           keyframe.frame_index,
                                           scene.look_range_px)
        assert bool(looked) == ('look_at' in labels)
        feet = _feet_x(scene)
        assert all(abs(feet[i] - feet[index]) <= scene.look_range_px
                   for i in looked)


def test_look_at_is_balanced_and_comes_with_a_look_alike(scenes):
  looking, with_look_alike, boxes, keyframes_looking = 0, 0, 0, 0
  for scene in scenes:
    for keyframe in scene.keyframes:
      facing = [math.cos(a.head_direction[keyframe.frame_index]) > 0
                for a in scene.actors]
      looks = ['look_at' in labels for labels in keyframe.labels]
      boxes += len(looks)
      looking += sum(looks)
      if any(looks):
        keyframes_looking += 1
        with_look_alike += any(
            looks[i] and not looks[j] and facing[i] == facing[j]
            for i in range(len(looks)) for j in range(len(looks)))
  assert 0.4 < looking / boxes < 0.6
  assert with_look_alike >= 0.6 * keyframes_looking


def test_every_class_occurs_often(scenes):
  counts = collections.Counter(
      name for scene in scenes for k in scene.keyframes
      for labels in k.labels for name in labels)
  assert set(counts) == set(synthetic_config.CLASS_NAMES)
  assert min(counts.values()) >= 40


def test_the_place_leaves_look_at_and_pass_open():
  # The place is drawn per video: many videos, for many layouts.
  scenes = [synthetic_scene.sample_scene(np.random.default_rng([6, i]),
                                         _STAGE) for i in range(200)]
  # A model given the box knows the actor's place; with one place of four
  # left empty, the place and the facing (or the throw's direction) decide
  # look_at (pass) for few boxes (throws): the best guess from them is
  # right little more often than the commoner label alone.
  look = collections.defaultdict(collections.Counter)
  throws = collections.defaultdict(collections.Counter)
  for scene in scenes:
    for keyframe in scene.keyframes:
      for i, labels in enumerate(keyframe.labels):
        actor = scene.actors[i]
        right = math.cos(actor.head_direction[keyframe.frame_index]) > 0
        look[(_place_index(actor.feet_xy[0, 0]), right)][
            'look_at' in labels] += 1
    for event in scene.events:
      if event.kind in ('pass', 'throw_away'):
        path = scene.balls[event.ball_index].center_xy
        right = path[event.arrival_frame, 0] > path[event.release_frame, 0]
        x = scene.actors[event.thrower].feet_xy[0, 0]
        throws[(_place_index(x), right)][event.kind == 'pass'] += 1

  def best_guess(table):
    return (sum(max(c.values()) for c in table.values()) /
            sum(sum(c.values()) for c in table.values()))

  def commoner(table):
    total = sum(table.values(), collections.Counter())
    return max(total.values()) / sum(total.values())

  assert {p for p, _ in look} == {0, 1, 2, 3}
  assert best_guess(look) < commoner(look) + 0.1
  assert best_guess(throws) < commoner(throws) + 0.1
