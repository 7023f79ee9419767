"""The synthetic balls: passes, throws to nobody, catches, distractors."""

import dataclasses

import numpy as np
import pytest

from acrn_tf.data.synthetic import synthetic_balls
from acrn_tf.data.synthetic import synthetic_config
from acrn_tf.data.synthetic import synthetic_figure
from acrn_tf.data.synthetic import synthetic_scene

_CONFIG = synthetic_config.PRESETS['tiny']


@pytest.fixture(scope='module')
def scenes():
  return [synthetic_scene.sample_scene(np.random.default_rng([0, i]), _CONFIG)
          for i in range(40)]


def _standing(x, y):
  return synthetic_figure.Actor(
      feet_xy=np.tile([x, y], (60, 1)).astype(float), height=30.0,
      clothing_rgb=(60, 40, 90), skin_rgb=(220, 170, 150),
      arm_angles=np.full((60, 2), 0.5), leg_spread=np.full(60, 0.08),
      head_direction=np.zeros(60))


@pytest.mark.parametrize('seed', range(5))
def test_two_actors_always_passing_alternate(seed):
  config = dataclasses.replace(_CONFIG, pass_probability=1.0,
                               throw_away_probability=0.0,
                               incoming_probability=1.0,
                               max_distractor_balls=1,
                               min_distractor_balls=1)
  actors = [_standing(30, 60), _standing(100, 60)]
  balls, events, labels = synthetic_balls.sample_balls(
      np.random.default_rng(seed), config, actors)
  # One play ball (never more than actors - 1), then one distractor.
  assert [b.is_distractor for b in balls] == [False, True]
  assert len(events) == 5
  kinds = [e.kind for e in events]
  assert set(kinds[1:]) == {'pass'} and kinds[0] in ('pass', 'incoming')
  for before, after in zip(events, events[1:]):
    assert after.thrower == before.receiver
    assert after.receiver == 1 - after.thrower
  for event in events:
    expected = {event.receiver: {'catch'}}
    if event.kind == 'pass':
      expected[event.thrower] = {'throw', 'pass'}
    assert {a: labels[(event.timestamp, a)] for a in (0, 1)
            if (event.timestamp, a) in labels} == expected


def test_holding_only():
  config = dataclasses.replace(_CONFIG, pass_probability=0.0,
                               throw_away_probability=0.0,
                               incoming_probability=0.0)
  actors = [_standing(30, 60), _standing(100, 60), _standing(70, 90)]
  balls, events, labels = synthetic_balls.sample_balls(
      np.random.default_rng(0), config, actors)
  play = [b for b in balls if not b.is_distractor]
  for ball in play:
    # A ball never moves: held all video by one actor, or resting.
    assert len(set(ball.holder.tolist())) == 1
    assert np.ptp(ball.center_xy, axis=0).max() == 0
  assert {e.kind for e in events} <= {'hold'}
  assert all(names == {'hold'} for names in labels.values())


def test_a_pass_moves_the_ball_from_chest_to_chest(scenes):
  half = _CONFIG.flight_half_frames
  outside_at_keyframe = 0
  passes = [(s, e) for s in scenes for e in s.events if e.kind == 'pass']
  for scene, event in passes:
    ball = scene.balls[event.ball_index]
    keyframe = event.timestamp * _CONFIG.fps
    assert (event.release_frame, event.arrival_frame) == (keyframe - half,
                                                          keyframe + half)
    assert ball.holder[event.release_frame] == event.thrower
    assert ball.holder[event.arrival_frame] == event.receiver
    # In the air (held by nobody) in between, keyframe included: the
    # keyframe alone does not show who threw.
    assert np.all(ball.holder[event.release_frame + 1:event.arrival_frame]
                  == -1)
    thrower = scene.actors[event.thrower]
    receiver = scene.actors[event.receiver]
    np.testing.assert_allclose(
        ball.center_xy[event.release_frame],
        synthetic_figure.chest_xy(thrower)[event.release_frame])
    np.testing.assert_allclose(
        ball.center_xy[event.arrival_frame],
        synthetic_figure.chest_xy(receiver)[event.arrival_frame])
    # The ball leaves the thrower's box within an 8-frame clip.
    outside = []
    for frame in range(keyframe - 4, keyframe + 4):
      ymin, xmin, ymax, xmax = synthetic_figure.actor_box_absolute(thrower,
                                                                  frame)
      x, y = ball.center_xy[frame]
      outside.append(not (xmin <= x <= xmax and ymin <= y <= ymax))
    assert any(outside)
    outside_at_keyframe += outside[4]
  assert outside_at_keyframe >= 0.6 * len(passes)


def test_held_balls_sit_on_the_holder(scenes):
  for scene in scenes:
    for ball in scene.balls:
      for frame in np.flatnonzero(ball.holder >= 0):
        chest = synthetic_figure.chest_xy(scene.actors[ball.holder[frame]])
        np.testing.assert_allclose(ball.center_xy[frame], chest[frame])


def test_distractors_never_interact_and_stay_in_frame(scenes):
  distractors = [b for s in scenes for b in s.balls if b.is_distractor]
  assert distractors
  for ball in distractors:
    assert np.all(ball.holder == -1)
    assert np.all(ball.center_xy >= ball.radius - 1e-9)
    assert np.all(ball.center_xy[:, 0] <= _CONFIG.frame_width - ball.radius +
                  1e-9)
    assert np.all(ball.center_xy[:, 1] <= _CONFIG.frame_height - ball.radius +
                  1e-9)


