import math

import numpy as np
import pytest

from benchmarks import heatmap_peaks


def test_peak_cell_and_whether_it_overlaps_a_box():
  heatmap = np.zeros((4, 8))
  heatmap[1, 5] = 2.0
  heatmap[3, 0] = 1.0
  # Row 1 of 4, column 5 of 8.
  np.testing.assert_allclose(heatmap_peaks.peak_cell(heatmap),
                             [0.25, 0.625, 0.5, 0.75])
  inside = [0.3, 0.65, 0.45, 0.7]
  elsewhere = [0.3, 0.1, 0.6, 0.2]
  touching = [0.25, 0.5, 0.5, 0.625]   # shares the cell's left edge only
  straddling = [0.0, 0.7, 0.3, 0.9]    # overlaps the cell's corner
  assert heatmap_peaks.peak_in_boxes(heatmap, [inside])
  assert not heatmap_peaks.peak_in_boxes(heatmap, [elsewhere])
  assert not heatmap_peaks.peak_in_boxes(heatmap, [touching])
  assert heatmap_peaks.peak_in_boxes(heatmap, [straddling])
  assert heatmap_peaks.peak_in_boxes(heatmap, [elsewhere, inside])
  assert not heatmap_peaks.peak_in_boxes(heatmap, np.zeros((0, 4)))


def test_chance_is_the_share_of_cells_overlapping_a_box():
  # A 4 x 8 map: rows of 0.25, columns of 0.125.
  rows_1_2_columns_4_5 = [0.3, 0.55, 0.7, 0.7]
  assert heatmap_peaks.chance_in_boxes((4, 8), [rows_1_2_columns_4_5]) == (
      pytest.approx(4 / 32))
  touching = [0.25, 0.5, 0.5, 0.625]   # one cell; shared edges do not count
  assert heatmap_peaks.chance_in_boxes((4, 8), [touching]) == (
      pytest.approx(1 / 32))
  # Two boxes: the union of their cells (cell (1, 4) once).
  assert heatmap_peaks.chance_in_boxes(
      (4, 8), [rows_1_2_columns_4_5, touching]) == pytest.approx(4 / 32)
  assert heatmap_peaks.chance_in_boxes((4, 8), np.zeros((0, 4))) == 0.0
  # The chance is what a peak in a cell drawn at random reaches.
  hits = 0
  for row in range(4):
    for column in range(8):
      heatmap = np.zeros((4, 8))
      heatmap[row, column] = 1.0
      hits += heatmap_peaks.peak_in_boxes(heatmap, [rows_1_2_columns_4_5])
  assert hits == 4


def test_placement_projects_the_peak_onto_the_actor_partner_line():
  # A 2 x 20 map; the actor's box centre at column 4, the partner's at
  # column 12 (cell centres), both in row 1: t = (peak column - 4) / 8.
  # No peak falls on a stretch's bound.
  actor = [0.5, 0.2, 1.0, 0.25]
  partner = [0.5, 0.6, 1.0, 0.65]
  expected = {1: 'behind the actor',     # t = -0.375
              3: 'on the actor',         # t = -0.125
              4: 'on the actor',         # t = 0
              7: 'between them',         # t = 0.375
              9: 'between them',         # t = 0.625
              11: 'at the partner',      # t = 0.875
              12: 'at the partner',      # t = 1
              13: 'at the partner',      # t = 1.125
              15: 'beyond the partner',  # t = 1.375
              19: 'beyond the partner'}
  for column, name in expected.items():
    heatmap = np.zeros((2, 20))
    heatmap[1, column] = 1.0
    assert heatmap_peaks.placement(heatmap, actor, partner) == name, column
  # The upper row projects onto the line like the lower one.
  heatmap = np.zeros((2, 20))
  heatmap[0, 12] = 1.0
  assert heatmap_peaks.placement(heatmap, actor, partner) == 'at the partner'
  # A partner on the left: the line runs the other way (t = -0.375).
  heatmap = np.zeros((2, 20))
  heatmap[1, 15] = 1.0
  assert heatmap_peaks.placement(heatmap, partner, actor) == (
      'behind the actor')
  assert [name for name, _ in heatmap_peaks.PLACEMENTS][-1] == (
      'beyond the partner')
  assert heatmap_peaks.PLACEMENTS[-1][1] == math.inf


def test_placement_refuses_boxes_with_one_centre():
  with pytest.raises(ValueError, match='share their centre'):
    heatmap_peaks.placement(np.ones((2, 2)), [0, 0, 1, 1], [0.25, 0.25,
                                                            0.75, 0.75])
