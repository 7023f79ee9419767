"""Where a heat map's maximum lies, relative to boxes in the frame.

The geometry of `heatmap_localisation`: a heat map [h, w] covers the whole
frame, each cell a region of it; the maximum "lies in" a box when the
region of the cell holding it overlaps the box. Pure numpy.
"""

import math
from typing import Tuple

import numpy as np

from acrn_tf.evaluation import average_precision

# Stretches of the line from an actor (0) to its partner (1), by the
# projected position t of the heat map's peak: the first whose upper
# bound exceeds t (`placement`).
PLACEMENTS = (('behind the actor', -0.25), ('on the actor', 0.25),
              ('between them', 0.75), ('at the partner', 1.25),
              ('beyond the partner', math.inf))


def peak_cell(heatmap: np.ndarray) -> np.ndarray:
  """The frame region of the cell holding a heat map's maximum.

  Args:
    heatmap: [h, w] over the whole frame.

  Returns:
    [4] normalised [ymin, xmin, ymax, xmax] (the first maximum in row-major
    order where several cells share it).
  """
  height, width = heatmap.shape
  row, column = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)
  return np.array([row / height, column / width, (row + 1) / height,
                   (column + 1) / width])


def _overlaps(cells: np.ndarray, boxes: np.ndarray) -> np.ndarray:
  """[m] whether each of the cells [m, 4] overlaps any of boxes [k, 4].

  Overlapping: sharing a region of positive area (a shared edge is not).
  """
  return np.any(average_precision.iou(cells, boxes) > 0, axis=1)


def peak_in_boxes(heatmap: np.ndarray, boxes: np.ndarray) -> bool:
  """Whether the cell of the heat map's maximum overlaps any of `boxes`.

  Args:
    heatmap: [h, w] over the whole frame.
    boxes: [k, 4] normalised [ymin, xmin, ymax, xmax].
  """
  return bool(_overlaps(peak_cell(np.asarray(heatmap)), boxes)[0])


def placement(heatmap: np.ndarray, box: np.ndarray,
              partner_box: np.ndarray) -> str:
  """Where a heat map's maximum lies on the line from an actor to a partner.

  Args:
    heatmap: [h, w] over the whole frame.
    box, partner_box: [4] normalised [ymin, xmin, ymax, xmax].

  Returns:
    The name in PLACEMENTS of the stretch holding t: the centre of the
    cell holding the maximum projected onto the line from the box's centre
    (t = 0) to the partner box's (t = 1), measured in map cells.

  Raises:
    ValueError: the two boxes share their centre (no line).
  """
  heatmap = np.asarray(heatmap)
  scale = np.array(heatmap.shape, np.float64)

  def centre(region):
    region = np.asarray(region, np.float64)
    return (region[:2] + region[2:]) / 2 * scale

  start, end = centre(box), centre(partner_box)
  line = end - start
  length = float(line @ line)
  if length == 0:
    raise ValueError(f'placement: the actor box {list(box)} and the partner '
                     f'box {list(partner_box)} share their centre')
  t = float((centre(peak_cell(heatmap)) - start) @ line) / length
  return next(name for name, bound in PLACEMENTS if t < bound)


def chance_in_boxes(shape: Tuple[int, int], boxes: np.ndarray) -> float:
  """The share of an [h, w] map's cells whose frame region overlaps a box.

  What `peak_in_boxes` gives on average for a maximum in a cell drawn at
  random: the figure's chance level.

  Args:
    shape: (h, w) of the heat map over the whole frame.
    boxes: [k, 4] normalised [ymin, xmin, ymax, xmax].
  """
  height, width = shape
  rows, columns = np.meshgrid(np.arange(height), np.arange(width),
                              indexing='ij')
  cells = np.stack([rows / height, columns / width, (rows + 1) / height,
                    (columns + 1) / width], axis=-1)
  return float(np.mean(_overlaps(cells.reshape(-1, 4), boxes)))
