"""The synthetic scene sampler: geometry, ball events and per-actor labels."""

import collections
import dataclasses
import math

import numpy as np
import pytest

from acrn_tf.data.synthetic import synthetic_config
from acrn_tf.data.synthetic import synthetic_figure
from acrn_tf.data.synthetic import synthetic_scene

_CONFIG = synthetic_config.PRESETS['tiny']


def _scenes(num, seed=0):
  return [synthetic_scene.sample_scene(np.random.default_rng([seed, i]),
                                       _CONFIG) for i in range(num)]


@pytest.fixture(scope='module')
def scenes():
  return _scenes(40)


def _actor(x, y, height=30.0, direction=0.0, arm_angle=0.5, num_frames=1):
  return synthetic_figure.Actor(
      feet_xy=np.tile([x, y], (num_frames, 1)).astype(float), height=height,
      clothing_rgb=(60, 40, 90), skin_rgb=(220, 170, 150),
      arm_angles=np.full((num_frames, 2), arm_angle),
      leg_spread=np.full(num_frames, 0.08),
      head_direction=np.full(num_frames, direction))


@pytest.mark.parametrize('other_xy,direction_degrees,expected', [
    ((90, 60), 0, True),       # level with it, straight right
    ((90, 60), 20, True),      # 20 degrees off: within 25
    ((90, 60), 30, False),
    ((90, 60), 180, False),    # facing away
    ((90, 90), 0, False),      # atan(30 / 60) = 26.6 degrees below
    ((90, 90), 10, True),      # 16.6 degrees off
    ((0, 60), 180, True),      # to the left
])
def test_looks_at_worked_by_hand(other_xy, direction_degrees, expected):
  actors = [_actor(30, 60, direction=math.radians(direction_degrees)),
            _actor(*other_xy)]
  assert synthetic_scene.looks_at(actors, 0, 0) is expected


def test_looked_at_names_every_actor_within_25_degrees():
  # Actor 0 at (30, 60) faces right: (90, 60) is straight ahead, (200, 100)
  # 13.2 degrees below, (90, 90) 26.6 degrees below, (0, 60) behind it.
  actors = [_actor(30, 60), _actor(90, 60), _actor(90, 90),
            _actor(0, 60), _actor(200, 100)]
  assert synthetic_scene.looked_at(actors, 0, 0) == (1, 4)
  # Facing left, only the one behind; nobody to the right of actor 4.
  turned = [dataclasses.replace(actors[0], head_direction=np.array([math.pi]))
            ] + actors[1:]
  assert synthetic_scene.looked_at(turned, 0, 0) == (3,)
  assert synthetic_scene.looked_at(actors, 4, 0) == ()
  assert not synthetic_scene.looks_at(actors, 4, 0)


def test_looked_at_agrees_with_the_look_at_label(scenes):
  for scene in scenes[:10]:
    for keyframe in scene.keyframes:
      for index, labels in enumerate(keyframe.labels):
        looked = synthetic_scene.looked_at(scene.actors, index,
                                           keyframe.frame_index,
                                           scene.look_range_px)
        assert bool(looked) == ('look_at' in labels)
        assert index not in looked


def _assert_scenes_equal(a, b):
  assert a.keyframes == b.keyframes and a.events == b.events
  assert a.background_seed == b.background_seed
  for x, y in zip(a.actors + a.balls, b.actors + b.balls):
    for field in dataclasses.fields(x):
      np.testing.assert_array_equal(getattr(x, field.name),
                                    getattr(y, field.name))


def test_same_generator_state_gives_the_same_scene():
  first = synthetic_scene.sample_scene(np.random.default_rng(3), _CONFIG)
  again = synthetic_scene.sample_scene(np.random.default_rng(3), _CONFIG)
  _assert_scenes_equal(first, again)
  other = synthetic_scene.sample_scene(np.random.default_rng(4), _CONFIG)
  assert not np.array_equal(first.actors[0].feet_xy, other.actors[0].feet_xy)


def test_shapes_and_keyframes(scenes):
  for scene in scenes:
    assert 2 <= len(scene.actors) <= 4
    assert [k.timestamp for k in scene.keyframes] == [1, 2, 3, 4, 5]
    assert [k.frame_index for k in scene.keyframes] == [10, 20, 30, 40, 50]
    for actor in scene.actors:
      assert actor.feet_xy.shape == (60, 2)
      assert actor.head_direction.shape == (60,)
    for ball in scene.balls:
      assert ball.center_xy.shape == (60, 2) and ball.holder.shape == (60,)


def test_labels_are_consistent(scenes):
  for scene in scenes:
    for keyframe in scene.keyframes:
      assert len(keyframe.labels) == len(scene.actors)
      for index, labels in enumerate(keyframe.labels):
        assert labels, 'every actor has at least one label'
        assert list(labels) == [n for n in synthetic_config.CLASS_NAMES
                                if n in labels]
        handles_ball = bool({'throw', 'catch', 'hold'} & set(labels))
        assert ('idle' in labels) != handles_ball
        if 'pass' in labels:
          assert 'throw' in labels
        assert ('look_at' in labels) == synthetic_scene.looks_at(
            scene.actors, index, keyframe.frame_index)


def test_every_class_occurs(scenes):
  counts = collections.Counter(
      name for scene in scenes for k in scene.keyframes
      for labels in k.labels for name in labels)
  assert set(counts) == set(synthetic_config.CLASS_NAMES)
  assert min(counts.values()) >= 20


def test_labels_follow_the_events(scenes):
  for scene in scenes:
    by_time = {k.timestamp: k for k in scene.keyframes}
    for event in scene.events:
      labels = by_time[event.timestamp].labels
      if event.kind == 'hold':
        assert 'hold' in labels[event.thrower]
      if event.kind in ('pass', 'throw_away'):
        assert 'throw' in labels[event.thrower]
        assert ('pass' in labels[event.thrower]) == (event.kind == 'pass')
      if event.kind in ('pass', 'incoming'):
        assert 'catch' in labels[event.receiver]


def test_thrower_and_catcher_of_one_pass_get_different_labels(scenes):
  passes = [(s, e) for s in scenes for e in s.events if e.kind == 'pass']
  assert len(passes) >= 10
  for scene, event in passes:
    keyframe = next(k for k in scene.keyframes
                    if k.timestamp == event.timestamp)
    thrower = keyframe.labels[event.thrower]
    catcher = keyframe.labels[event.receiver]
    assert {'throw', 'pass'} <= set(thrower) and 'catch' not in thrower
    assert 'catch' in catcher and 'throw' not in catcher


def test_actors_stay_in_frame_and_apart(scenes):
  for scene in scenes:
    for frame in range(0, scene.num_frames, 3):
      boxes = [synthetic_figure.actor_box_absolute(a, frame)
               for a in scene.actors]
      for ymin, xmin, ymax, xmax in boxes:
        assert ymin >= 0 and xmin >= 0
        assert ymax <= scene.height and xmax <= scene.width
      for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
          a, b = boxes[i], boxes[j]
          overlap = (min(a[2], b[2]) > max(a[0], b[0]) and
                     min(a[3], b[3]) > max(a[1], b[1]))
          assert not overlap


def test_head_direction_does_not_reveal_look_at(scenes):
  looking, not_looking = [], []
  for scene in scenes:
    for keyframe in scene.keyframes:
      for index, labels in enumerate(keyframe.labels):
        direction = scene.actors[index].head_direction[keyframe.frame_index]
        (looking if 'look_at' in labels else not_looking).append(direction)
  looking, not_looking = np.array(looking), np.array(not_looking)
  assert 0.2 < len(looking) / (len(looking) + len(not_looking)) < 0.5
  # Same share facing right and about the same tilt in both groups.
  right = lambda d: np.mean(np.cos(d) > 0)
  tilt = lambda d: np.degrees(np.mean(np.abs(np.arcsin(np.sin(d)))))
  assert abs(right(looking) - right(not_looking)) < 0.1
  assert abs(tilt(looking) - tilt(not_looking)) < 3.0


def test_actors_that_do_not_fit_raise():
  config = dataclasses.replace(_CONFIG, frame_height=48, frame_width=48,
                               min_actors=6, max_actors=6,
                               actor_height_fraction=0.45).validate()
  with pytest.raises(ValueError, match='Cannot place 6 actors'):
    synthetic_scene.sample_scene(np.random.default_rng(0), config)
