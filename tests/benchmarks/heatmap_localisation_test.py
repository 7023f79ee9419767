"""heatmap_localisation: partners, the peak check and the figure, by hand.

The model side (`ClassHeatmapDetector`, `evaluate_run`) runs on a trained
tiny run in accuracy_test.
"""

import json
import math

import numpy as np
import pytest

from acrn_tf.data.synthetic import synthetic_config
from acrn_tf.data.synthetic import synthetic_figure
from acrn_tf.data.synthetic import synthetic_scene
from benchmarks import heatmap_localisation as localisation
from benchmarks import heatmap_peaks

_FPS = 10


def _actor(x, direction):
  """Standing at (x, 60), 30 px tall, its head facing `direction`."""
  frames = 3 * _FPS
  return synthetic_figure.Actor(
      feet_xy=np.tile([float(x), 60.0], (frames, 1)), height=30.0,
      clothing_rgb=(60, 40, 90), skin_rgb=(220, 170, 150),
      arm_angles=np.full((frames, 2), 0.5), leg_spread=np.full(frames, 0.08),
      head_direction=np.full(frames, direction))


def _scene():
  """Three actors on one line at x = 30, 90 and 200 of a 96 x 240 frame.

  Actor 0 faces right (1 and 2 stand there), 1 faces left (0), 2 faces
  right (nobody). At second 1, actor 0 passes to 2 while 1 throws its ball
  away; at second 2, 2 passes to 1 and 0 holds.
  """
  actors = (_actor(30, 0.0), _actor(90, math.pi), _actor(200, 0.0))
  events = (
      synthetic_scene.BallEvent('pass', 1, 0, 0, 2, 7, 13),
      synthetic_scene.BallEvent('throw_away', 1, 1, 1, -1, 7, 13),
      synthetic_scene.BallEvent('pass', 2, 0, 2, 1, 17, 23),
      synthetic_scene.BallEvent('hold', 2, 1, 0, -1, 20, 20))
  keyframes = (
      synthetic_scene.Keyframe(1, 10, (('throw', 'pass', 'look_at'),
                                       ('throw', 'look_at'), ('catch',))),
      synthetic_scene.Keyframe(2, 20, (('hold', 'look_at'), ('catch',
                                                             'look_at'),
                                       ('throw', 'pass'))))
  return synthetic_scene.Scene(
      height=96, width=240, fps=_FPS, num_frames=3 * _FPS,
      background_seed=0, actors=actors, balls=(), events=events,
      keyframes=keyframes)


def test_partners_of_a_pass_are_its_receivers():
  scene = _scene()
  assert localisation.partners(scene, 1, 0, 'pass') == (2,)
  assert localisation.partners(scene, 2, 2, 'pass') == (1,)
  # A throw to nobody, a catcher, a holder: no pass partner.
  assert localisation.partners(scene, 1, 1, 'pass') == ()
  assert localisation.partners(scene, 1, 2, 'pass') == ()
  assert localisation.partners(scene, 2, 0, 'pass') == ()


def test_partners_of_look_at_are_the_actors_looked_at():
  scene = _scene()
  assert localisation.partners(scene, 1, 0, 'look_at') == (1, 2)
  assert localisation.partners(scene, 1, 1, 'look_at') == (0,)
  assert localisation.partners(scene, 1, 2, 'look_at') == ()
  with pytest.raises(ValueError, match="no partner is defined for label "
                     "'catch'"):
    localisation.partners(scene, 1, 0, 'catch')


def test_groundtruth_gives_the_partner_boxes_of_the_relation_labels():
  scene = _scene()
  actors = localisation.groundtruth(scene, 1)
  # Actors 0 (pass, look_at) and 1 (look_at); 2 only catches.
  assert len(actors) == 2
  box, partner_boxes = actors[0]
  np.testing.assert_allclose(box, synthetic_scene.actor_box(scene, 0, 10))
  assert sorted(partner_boxes) == ['look_at', 'pass']
  np.testing.assert_allclose(partner_boxes['pass'],
                             [synthetic_scene.actor_box(scene, 2, 10)])
  assert partner_boxes['look_at'].shape == (2, 4)
  assert list(actors[1][1]) == ['look_at']
  assert [list(p) for _, p in localisation.groundtruth(scene, 2)] == [
      ['look_at'], ['look_at'], ['pass']]


def test_partners_in_generated_scenes():
  config = synthetic_config.PRESETS['tiny']
  passes = 0
  for i in range(12):
    scene = synthetic_scene.sample_scene(np.random.default_rng([5, i]),
                                         config)
    for keyframe in scene.keyframes:
      for index, labels in enumerate(keyframe.labels):
        receivers = localisation.partners(scene, keyframe.timestamp, index,
                                          'pass')
        # Every passer passes to one actor, who catches.
        assert len(receivers) == ('pass' in labels)
        for receiver in receivers:
          assert 'catch' in keyframe.labels[receiver]
          passes += 1
        assert bool(localisation.partners(
            scene, keyframe.timestamp, index, 'look_at')) == (
                'look_at' in labels)
  assert passes > 0


def _maps(peaks):
  """[n, 4, 8, 2] heat maps; peaks[d][c] is the (row, column) of the max."""
  maps = np.zeros((len(peaks), 4, 8, 2))
  for d, per_class in enumerate(peaks):
    for c, (row, column) in enumerate(per_class):
      maps[d, row, column, c] = 1.0
  return maps


def test_check_keyframe_counts_correctly_detected_actors_only():
  columns = {'pass': 0, 'look_at': 1}
  actor = np.array([0.2, 0.1, 0.8, 0.2])
  # Columns 4 and 5 of 8, every row: 8 of 32 cells, chance 0.25.
  partner = np.array([[0.2, 0.6, 0.8, 0.7]])
  actors = [(actor, {'pass': partner, 'look_at': partner})]
  boxes = np.array([[0.2, 0.1, 0.8, 0.2],      # the actor
                    [0.2, 0.6, 0.8, 0.7]])     # the partner
  # Detection 0: pass 0.9 with its peak on the partner, look_at 0.4 (not
  # found). Detection 1 scores high but is not on the actor.
  scores = np.array([[0.9, 0.4], [0.95, 0.95]])
  maps = _maps([[(2, 5), (2, 5)], [(0, 0), (0, 0)]])
  assert localisation.check_keyframe(boxes, scores, maps, columns,
                                     actors) == [
                                         ('pass', True, 0.25, 'at the partner')]
  # Its pass peak on itself instead: found, not inside.
  maps = _maps([[(2, 1), (2, 5)], [(0, 0), (0, 0)]])
  assert localisation.check_keyframe(boxes, scores, maps, columns,
                                     actors) == [('pass', False, 0.25,
                                                 'on the actor')]
  # Score exactly 0.5 counts; IoU below 0.5 does not.
  scores = np.array([[0.5, 0.5], [0.95, 0.95]])
  assert localisation.check_keyframe(boxes, scores, maps, columns,
                                     actors) == [
                                         ('pass', False, 0.25, 'on the actor'),
                                         ('look_at', True, 0.25,
                                          'at the partner')]
  shifted = boxes + np.array([0.0, 0.05, 0.0, 0.05])   # IoU 1/3
  assert localisation.check_keyframe(shifted, scores, maps, columns,
                                     actors) == []


def test_check_keyframe_uses_the_highest_scoring_detection():
  columns = {'pass': 0}
  actor = np.array([0.2, 0.1, 0.8, 0.2])
  partner = np.array([[0.2, 0.6, 0.8, 0.7]])
  boxes = np.array([actor, actor + np.array([0.0, 0.0, 0.0, 0.01])])
  scores = np.array([[0.6], [0.8]])
  maps = np.zeros((2, 4, 8, 1))
  maps[0, 2, 5, 0] = 1.0   # the weaker one looks at the partner
  maps[1, 2, 0, 0] = 1.0
  assert localisation.check_keyframe(
      boxes, scores, maps, columns, [(actor, {'pass': partner})]) == [
          ('pass', False, 0.25, 'on the actor')]


def _placed(*counts):
  """{placement name: count} in the order of heatmap_peaks.PLACEMENTS."""
  return {name: count for (name, _), count in
          zip(heatmap_peaks.PLACEMENTS, counts)}


def test_summarize_and_the_markdown():
  runs = {'acrn_f8_s0': {'num_actors': 10, 'num_inside': 6, 'fraction': 0.6,
                         'chance': 0.1,
                         'per_class': {
                             'pass': {'num_actors': 4, 'num_inside': 3,
                                      'fraction': 0.75,
                                      'placements': _placed(1, 0, 0, 3, 0)},
                             'look_at': {'num_actors': 6, 'num_inside': 3,
                                         'fraction': 0.5,
                                         'placements': _placed(
                                             0, 2, 1, 3, 0)}}},
          'acrn_f8_s1': {'num_actors': 5, 'num_inside': 4, 'fraction': 0.8,
                         'chance': 0.2,
                         'per_class': {
                             'pass': {'num_actors': 0, 'num_inside': 0,
                                      'fraction': None,
                                      'placements': _placed(0, 0, 0, 0, 0)},
                             'look_at': {'num_actors': 5, 'num_inside': 4,
                                         'fraction': 0.8,
                                         'placements': _placed(
                                             0, 0, 0, 4, 1)}}}}
  summary = localisation.summarize(runs)
  assert summary['mean_fraction'] == pytest.approx(0.7)
  # Sample std of 0.6 and 0.8.
  assert summary['std_fraction'] == pytest.approx(math.sqrt(0.02))
  assert summary['mean_chance'] == pytest.approx(0.15)
  assert summary['placements'] == {'pass': _placed(1, 0, 0, 3, 0),
                                   'look_at': _placed(0, 2, 1, 7, 1)}
  assert (summary['num_actors'], summary['num_inside']) == (15, 10)
  lines = localisation.format_markdown(summary)
  assert lines[0] == '## Heat-map localisation (paper 4.4 as a number)'
  assert ('Inside the partner\'s box: **70.0 %** ± 14.1 (mean ± std over 2 '
          'runs; 10 of 15 actors in all); chance 15.0 %.') in lines
  assert '| Run | all | pass | look_at | chance |' in lines
  assert ('| acrn_f8_s0 | 60.0 % (6/10) | 75.0 % (3/4) | 50.0 % (3/6) | '
          '10.0 % |' in lines)
  assert ('| acrn_f8_s1 | 80.0 % (4/5) | 0 actors | 80.0 % (4/5) | 20.0 % |'
          in lines)
  assert ('| Label | behind the actor (< -0.25) | on the actor (-0.25 to '
          '0.25) | between them (0.25 to 0.75) | at the partner (0.75 to '
          '1.25) | beyond the partner (>= 1.25) |') in lines
  assert ('| pass | 25 % (1) | 0 % (0) | 0 % (0) | 75 % (3) | 0 % (0) |'
          in lines)
  assert ('| look_at | 0 % (0) | 18 % (2) | 9 % (1) | 64 % (7) | 9 % (1) |'
          in lines)
  nothing = localisation.summarize({'acrn_f8_s0': {
      'num_actors': 0, 'num_inside': 0, 'fraction': None, 'chance': None,
      'per_class': {}}})
  assert not any(line.startswith('Where the maximum lies')
                 for line in localisation.format_markdown(nothing))
  assert nothing['mean_fraction'] is None and nothing['std_fraction'] is None
  assert nothing['mean_chance'] is None
  assert 'Inside the partner\'s box: undefined (no actor found).' in (
      localisation.format_markdown(nothing))
  assert localisation.format_markdown(None) == []


def test_a_kept_figure_without_a_chance_level_is_evaluated_again(
    tmp_path, monkeypatch):
  path = tmp_path / localisation.LOCALISATION_JSON
  old = {'num_actors': 2, 'num_inside': 1, 'fraction': 0.5, 'per_class': {}}
  path.write_text(json.dumps(old))
  new = dict(old, chance=0.1, placements={})
  calls = []

  def evaluate_run(run_dir, dataset, videos_dir):
    calls.append((run_dir, dataset, videos_dir))
    return new

  monkeypatch.setattr(localisation, 'evaluate_run', evaluate_run)
  assert localisation.load_or_evaluate(str(tmp_path), 'data', 'v') == new
  assert calls == [(str(tmp_path), 'data', 'v')]
  assert json.loads(path.read_text()) == new
  # Kept with its chance level: read, not evaluated.
  assert localisation.load_or_evaluate(str(tmp_path), 'data', 'v') == new
  assert len(calls) == 1
