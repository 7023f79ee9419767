"""tube_linking: hand cases of the greedy linking, trimming and errors."""

import numpy as np
import pytest

from acrn_tf.evaluation import tube_linking


def _track_a(t):
  # Moves right: x from 0.1 + 0.1 t, width 0.3; y in [0.2, 0.6].
  return [0.2, 0.1 + 0.1 * t, 0.6, 0.4 + 0.1 * t]


def _track_b(t):
  # Moves left: x from 0.5 - 0.1 t, width 0.3; y in [0.3, 0.7].
  return [0.3, 0.5 - 0.1 * t, 0.7, 0.8 - 0.1 * t]


def _crossing(score_a, score_b):
  """Two tracks crossing at t = 2 (same x, y offset 0.1), 5 frames.

  Columns: class 1 (the tracks' scores), class 2 (below min_score).
  """
  frames = {}
  for t in range(5):
    frames[t] = (np.array([_track_b(t), _track_a(t)]),
                 np.array([[score_b[t], 0.001], [score_a[t], 0.001]]))
  return frames


def test_two_crossing_tracks_stay_apart():
  # From t = 2 to 3, A's last box A2 overlaps its own next box A3 with
  # IoU 0.5 (x overlap 0.2 of 0.3, same y: 0.08 / 0.16) and B3 with IoU
  # 1/3 (0.2 x 0.3 = 0.06 / (0.12 + 0.12 - 0.06)). A (mean 0.9) links first;
  # its link scores: A3: 0.9 + 0.6 + 0.5 = 2.0 > B3: 0.9 + 0.7 + 1/3 = 1.93,
  # so it stays on A although B3 scores higher; B takes B3.
  score_a = [0.9, 0.9, 0.9, 0.6, 0.6]
  score_b = [0.7] * 5
  tubes = tube_linking.link_tubes(_crossing(score_a, score_b), [1, 2])
  assert len(tubes) == 2  # class 2 scores are below min_score: no tubes
  tube_a, tube_b = tubes  # by descending score: A 0.78, B 0.7
  assert tube_a.label_id == tube_b.label_id == 1
  np.testing.assert_allclose(tube_a.boxes, [_track_a(t) for t in range(5)])
  np.testing.assert_allclose(tube_b.boxes, [_track_b(t) for t in range(5)])
  assert tube_a.frame_indices.tolist() == [0, 1, 2, 3, 4]
  np.testing.assert_allclose(tube_a.frame_scores, score_a)
  assert tube_a.score == pytest.approx(0.78)
  assert tube_b.score == pytest.approx(0.7)


def test_without_the_iou_term_the_tracks_switch():
  # lambda = 0: A takes the higher-scoring B3 at t = 3 (0.7 > 0.6), so the
  # tracks swap boxes after the crossing.
  config = tube_linking.LinkingConfig(linking_lambda=0.0)
  tubes = tube_linking.link_tubes(
      _crossing([0.9, 0.9, 0.9, 0.6, 0.6], [0.7] * 5), [1, 2], config)
  first = tubes[0]
  np.testing.assert_allclose(first.boxes[:3], [_track_a(t) for t in range(3)])
  np.testing.assert_allclose(first.boxes[3], _track_b(3))


def _box(x):
  return [0.4, x, 0.6, x + 0.2]


def test_tube_ends_without_a_link_and_gaps_can_be_bridged():
  # A box at x = 0.1 on frames 0, 1; frame 2 is empty; frame 3 has it
  # again; frame 4 has a box far away (x = 0.7, IoU 0 with x = 0.1).
  one = np.array([[0.8]])
  frames = {0: (np.array([_box(0.1)]), one), 1: (np.array([_box(0.1)]), one),
            2: (np.zeros((0, 4)), np.zeros((0, 1))),
            3: (np.array([_box(0.1)]), one), 4: (np.array([_box(0.7)]), one)}
  tubes = tube_linking.link_tubes(frames, [5])
  # No gap allowed: [0, 1], then [3] (a new tube), then [4] (no overlap).
  assert sorted(t.frame_indices.tolist() for t in tubes) == [[0, 1], [3],
                                                             [4]]
  assert {t.label_id for t in tubes} == {5}
  config = tube_linking.LinkingConfig(max_missed_steps=1)
  tubes = tube_linking.link_tubes(frames, [5], config)
  assert sorted(t.frame_indices.tolist() for t in tubes) == [[0, 1, 3], [4]]
  config = tube_linking.LinkingConfig(max_missed_steps=1, min_tube_length=2)
  tubes = tube_linking.link_tubes(frames, [5], config)
  assert [t.frame_indices.tolist() for t in tubes] == [[0, 1, 3]]


def test_temporal_trimming_cuts_low_scoring_ends():
  scores = [0.05, 0.5, 0.9, 0.4, 0.05]
  frames = {t: (np.array([_box(0.1)]), np.array([[s]]))
            for t, s in enumerate(scores)}
  (untrimmed,) = tube_linking.link_tubes(frames, [1])
  assert untrimmed.frame_indices.tolist() == [0, 1, 2, 3, 4]
  assert untrimmed.score == pytest.approx(np.mean(scores))
  config = tube_linking.LinkingConfig(trim_score_threshold=0.3)
  (trimmed,) = tube_linking.link_tubes(frames, [1], config)
  assert trimmed.frame_indices.tolist() == [1, 2, 3]
  assert trimmed.score == pytest.approx(0.6)


def test_strided_frames_link_step_to_step():
  frames = {0: (np.array([_box(0.1)]), np.array([[0.9]])),
            8: (np.array([_box(0.15)]), np.array([[0.9]]))}
  (tube,) = tube_linking.link_tubes(frames, [1])
  assert tube.frame_indices.tolist() == [0, 8]


def test_errors():
  with pytest.raises(ValueError, match=r'frame 3: scores have shape'):
    tube_linking.link_tubes({3: (np.array([_box(0.1)]), np.array([[1.0]]))},
                            [1, 2])
  with pytest.raises(ValueError, match='max_missed_steps'):
    tube_linking.LinkingConfig(max_missed_steps=-1)
  with pytest.raises(ValueError, match='frame indices must increase'):
    tube_linking.Tube(1, [2, 1], [_box(0.1), _box(0.1)])
  with pytest.raises(ValueError, match='2 frames, 1 boxes'):
    tube_linking.Tube(1, [1, 2], [_box(0.1)])
