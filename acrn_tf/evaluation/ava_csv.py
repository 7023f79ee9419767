"""The AVA csv formats: readers and the detections writer.

Read as the ActivityNet challenge's `get_ava_performance.py` reads them (see
`ava_protocol` for the evaluation rules). Two releases of that tool differ
here; `current` is the one published today, `v2.1` the 2018-2019 one that
scored AVA v2.1:

- csv rows `video_id, timestamp, x1, y1, x2, y2, action_id[, score]`, x
  before y, normalised; boxes become `[y1, x1, y2, x2]` at this boundary
  only. In the groundtruth the 8th column is the person id, which the
  official reader takes as a "score": it only orders a keyframe's boxes, and
  it is kept for that so ties in IoU resolve the same way.
- rows `video_id, timestamp` (2 columns) name a keyframe with no action
  (current; the v2.1 tool refuses them). Every keyframe named by a row of
  the groundtruth, whatever its columns and classes, is an annotated
  keyframe (`CsvContents.all_keys`).
- keyframe key: current `"%s,%.6f" % (video_id, timestamp)`, so fractional
  seconds are keys of their own (902.001 is not 902); v2.1
  `"%s,%04d" % (video_id, int(timestamp))`, whole seconds only (a fractional
  timestamp crashes the v2.1 tool; it is refused here with its line).
- rows of actions outside the label map are skipped; at most `capacity`
  rows per keyframe are kept, the top scores, chosen with the official heap
  (ties keep the earlier rows), after that class filter.
- excluded-timestamps csv rows `video_id, timestamp` (a v2.1 input; the
  current tool has no such file, and both are accepted here).

Label maps (both the `item {}` and the AVA action-list `label {}` forms) are
read by `acrn_tf.data.label_map_util`.

The writer emits our detections in that csv format (boxes with 3 decimals,
scores with 9 significant digits), so both official tools score them
unchanged. A malformed row is a `CsvFormatError` naming file and line.
"""

import csv
import dataclasses
import heapq
import math
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Set

from absl import logging
import numpy as np

from acrn_tf.evaluation import eval_dict
from acrn_tf.evaluation import reporting

class CsvFormatError(ValueError):
  """A row of an AVA csv is malformed; the message names file and line."""


@dataclasses.dataclass
class KeyframeBoxes:
  """The rows of one keyframe, in the official reader's order.

  Attributes:
    boxes: float64 `[n, 4]` `[ymin, xmin, ymax, xmax]`, normalised.
    labels: int64 `[n]` action ids.
    scores: float64 `[n]` scores (the person id for groundtruth rows, 1.0
      when the row has 7 columns).
  """
  boxes: np.ndarray
  labels: np.ndarray
  scores: np.ndarray


def make_keyframe_key(video_id: str, timestamp) -> str:
  """The current official key, `"%s,%.6f" % (video_id, timestamp)`."""
  return '%s,%.6f' % (video_id, float(timestamp))


def make_v21_keyframe_key(video_id: str, timestamp) -> str:
  """The v2.1 official key, `"%s,%04d" % (video_id, int(timestamp))`."""
  return '%s,%04d' % (video_id, int(timestamp))


def _seconds(text: str, where: str) -> float:
  """The timestamp column as a finite number of seconds."""
  try:
    value = float(text)
  except ValueError:
    raise CsvFormatError(f'{where}: timestamp {text!r} is not a number'
                         ) from None
  if not math.isfinite(value):
    raise CsvFormatError(f'{where}: timestamp {text!r} is not finite')
  return value


def _whole_seconds(text: str, where: str) -> int:
  """The timestamp column as whole seconds, as the v2.1 `int()` reads."""
  try:
    return int(text)
  except ValueError:
    pass
  value = _seconds(text, where)
  if value != int(value):
    raise CsvFormatError(
        f'{where}: timestamp {text!r} is not whole seconds, which the v2.1 '
        'AVA evaluator requires (the current one keys it to the '
        'microsecond)')
  return int(value)


def ava_key_from_row(video_id: str, timestamp: str, where: str) -> str:
  """The current official key of a csv row (any finite seconds).

  The official tool formats `decimal.Decimal(text)` with `%.6f`, which
  converts it to the nearest float first; `float(text)` is that float.
  """
  return make_keyframe_key(video_id, _seconds(timestamp, where))


def ava_v21_key_from_row(video_id: str, timestamp: str, where: str) -> str:
  """The v2.1 official key of a csv row (whole-second timestamps only)."""
  return make_v21_keyframe_key(video_id, _whole_seconds(timestamp, where))


def frame_key_from_row(video_id: str, timestamp: str, where: str) -> str:
  """The `eval_dict.keyframe_key` of a csv row (fractional seconds allowed)."""
  return eval_dict.keyframe_key(video_id, _seconds(timestamp, where))


KeyFn = Callable[[str, str, str], str]


@dataclasses.dataclass
class CsvContents:
  """An AVA csv as read by `read_keyframes`.

  Attributes:
    keyframes: key -> KeyframeBoxes of the kept rows, keys in order of their
      first kept row.
    all_keys: the key of every row read (2-column rows, rows of actions
      outside the label map and rows cut by the capacity included): for a
      groundtruth csv, its annotated keyframes.
  """
  keyframes: Dict[str, KeyframeBoxes]
  all_keys: Set[str]


def read_keyframes(path: str,
                   class_ids: Optional[Iterable[int]] = None,
                   capacity: int = 0,
                   require_valid_boxes: bool = False,
                   key_fn: KeyFn = ava_key_from_row,
                   allow_keyframe_only_rows: bool = True) -> CsvContents:
  """Reads an AVA groundtruth or detections csv, grouped by keyframe.

  Args:
    path: the csv file; rows of 7 or 8 columns, or 2 (`video_id,
      timestamp`: a keyframe with no action) if `allow_keyframe_only_rows`
      (see the module docstring); blank lines are skipped.
    class_ids: if given, rows of other actions are skipped.
    capacity: keep at most this many rows per keyframe, the top scores
      (0 keeps all).
    require_valid_boxes: refuse rows with x1 > x2 or y1 > y2 (groundtruth).
    key_fn: (video_id, timestamp text, 'path:line') -> keyframe key.
    allow_keyframe_only_rows: accept 2-column rows, as the current official
      evaluator does (the v2.1 one refuses them).

  Returns:
    CsvContents; each keyframe's rows sorted by descending score.

  Raises:
    CsvFormatError: naming path:line and the bad field.
    FileNotFoundError: if the file does not exist.
  """
  whitelist = None if class_ids is None else set(int(i) for i in class_ids)
  grouper = KeyframeRowGrouper(capacity)
  all_keys = set()
  columns = '2, 7 or 8' if allow_keyframe_only_rows else '7 or 8'
  outside = 0
  with open(path, newline='', encoding='utf-8-sig') as f:
    for line_number, row in enumerate(csv.reader(f), start=1):
      where = f'{path}:{line_number}'
      if not row or (len(row) == 1 and not row[0].strip()):
        continue
      if len(row) not in (2, 7, 8) or (
          len(row) == 2 and not allow_keyframe_only_rows):
        raise CsvFormatError(
            f'{where}: {len(row)} columns, expected {columns} (video_id, '
            f'timestamp[, x1, y1, x2, y2, action_id[, score]]): {row}')
      video_id = row[0].strip()
      if not video_id:
        raise CsvFormatError(f'{where}: empty video_id')
      key = key_fn(video_id, row[1].strip(), where)
      all_keys.add(key)
      if len(row) == 2:
        continue
      x1, y1, x2, y2 = _floats(row[2:6], ('x1', 'y1', 'x2', 'y2'), where)
      action_id = _integer(row[6], 'action_id', where)
      if whitelist is not None and action_id not in whitelist:
        continue
      score = 1.0
      if len(row) == 8:
        (score,) = _floats(row[7:8], ('score',), where)
      if require_valid_boxes and (x1 > x2 or y1 > y2):
        raise CsvFormatError(f'{where}: box x1={x1} y1={y1} x2={x2} y2={y2} '
                             'has x1 > x2 or y1 > y2')
      if min(x1, y1, x2, y2) < -0.01 or max(x1, y1, x2, y2) > 1.01:
        outside += 1
      grouper.add(key, (y1, x1, y2, x2), action_id, score)
  if outside:
    logging.warning('%s: %d rows have coordinates outside [0, 1]; AVA boxes '
                    'are normalised.', path, outside)
  return CsvContents(keyframes=grouper.result(), all_keys=all_keys)


def read_csv(path: str,
             class_ids: Optional[Iterable[int]] = None,
             capacity: int = 0,
             require_valid_boxes: bool = False,
             key_fn: KeyFn = ava_key_from_row,
             allow_keyframe_only_rows: bool = True
             ) -> Dict[str, KeyframeBoxes]:
  """The `keyframes` of `read_keyframes` (same arguments)."""
  return read_keyframes(path, class_ids, capacity, require_valid_boxes,
                        key_fn, allow_keyframe_only_rows).keyframes


class KeyframeRowGrouper:
  """Groups rows by keyframe, keeping the top `capacity` scores of each.

  The official reader's rule: a min-heap of `(score, action_id, y1, x1, y2,
  x2)` per keyframe; a row enters while the heap is not full, later only if
  its score beats the heap's least (so ties keep the earlier rows); the kept
  rows are then sorted by descending score (stably, from heap order). The
  order matters: greedy matching and tied scores follow it.
  """

  def __init__(self, capacity: int = 0):
    """Keeps at most `capacity` rows per keyframe (0 keeps all)."""
    self._capacity = capacity
    self._heaps: Dict[str, list] = {}

  def add(self, key: str, box: Sequence[float], action_id: int,
          score: float) -> None:
    """Adds one row; `box` is `[ymin, xmin, ymax, xmax]`."""
    heap = self._heaps.setdefault(key, [])
    item = (float(score), int(action_id)) + tuple(float(v) for v in box)
    if self._capacity < 1 or len(heap) < self._capacity:
      heapq.heappush(heap, item)
    elif item[0] > heap[0][0]:
      heapq.heapreplace(heap, item)

  def result(self) -> Dict[str, KeyframeBoxes]:
    """key -> KeyframeBoxes, keys in order of their first row."""
    result = {}
    for key, heap in self._heaps.items():
      ranked = sorted(heap, key=lambda item: -item[0])
      result[key] = KeyframeBoxes(
          boxes=np.array([item[2:6] for item in ranked],
                         dtype=np.float64).reshape(-1, 4),
          labels=np.array([item[1] for item in ranked], dtype=np.int64),
          scores=np.array([item[0] for item in ranked], dtype=np.float64))
    return result


def _floats(texts, names, where) -> List[float]:
  values = []
  for text, name in zip(texts, names):
    try:
      value = float(text)
    except ValueError:
      raise CsvFormatError(f'{where}: {name} {text!r} is not a number'
                           ) from None
    if not math.isfinite(value):
      raise CsvFormatError(f'{where}: {name} {text!r} is not finite')
    values.append(value)
  return values


def _integer(text, name, where) -> int:
  try:
    return int(text)
  except ValueError:
    raise CsvFormatError(f'{where}: {name} {text!r} is not an integer'
                         ) from None


def read_excluded_timestamps(path: str,
                             key_fn: KeyFn = ava_key_from_row) -> Set[str]:
  """Keys of the keyframes listed in an excluded-timestamps csv.

  Args:
    path: csv rows `video_id, timestamp`; blank lines are skipped.
    key_fn: as in `read_csv`.

  Raises:
    CsvFormatError: naming path:line.
  """
  excluded = set()
  with open(path, newline='', encoding='utf-8-sig') as f:
    for line_number, row in enumerate(csv.reader(f), start=1):
      where = f'{path}:{line_number}'
      if not row or (len(row) == 1 and not row[0].strip()):
        continue
      if len(row) != 2:
        raise CsvFormatError(f'{where}: {len(row)} columns, expected 2 '
                             f'(video_id, timestamp): {row}')
      excluded.add(key_fn(row[0].strip(), row[1].strip(), where))
  return excluded


def format_timestamp(timestamp: float) -> str:
  """A csv timestamp: '%04d' for whole seconds (as AVA), else 3 decimals."""
  value = float(timestamp)
  if value == int(value):
    return '%04d' % int(value)
  return f'{value:08.3f}'


def detection_rows(video_id: str, timestamp: float, boxes: np.ndarray,
                   scores: np.ndarray, classes: np.ndarray) -> List[str]:
  """Csv lines of one keyframe's detections, one per (box, class).

  Args:
    video_id: the video's id.
    timestamp: keyframe seconds (whole seconds for the official tool).
    boxes: float `[n, 4]` `[ymin, xmin, ymax, xmax]` normalised; written as
      x1, y1, x2, y2 with 3 decimals.
    scores: float `[n]`, written with 9 significant digits (exact for
      float32, so the ranking survives the round trip).
    classes: int `[n]` action ids.

  Returns:
    Lines `video_id,timestamp,x1,y1,x2,y2,action_id,score` (no newline).
  """
  boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
  scores = np.asarray(scores, dtype=np.float64).reshape(-1)
  classes = np.asarray(classes).reshape(-1)
  if not len(boxes) == len(scores) == len(classes):
    raise ValueError(f'detections of {video_id},{timestamp}: {len(boxes)} '
                     f'boxes, {len(scores)} scores, {len(classes)} classes')
  if ',' in video_id or '\n' in video_id:
    raise ValueError(f'video_id {video_id!r} cannot hold "," or a newline')
  stamp = format_timestamp(timestamp)
  return [f'{video_id},{stamp},{xmin:.3f},{ymin:.3f},{xmax:.3f},{ymax:.3f},'
          f'{int(round(float(c)))},{s:.9g}'
          for (ymin, xmin, ymax, xmax), c, s in zip(boxes, classes, scores)]


def multilabel_detection_rows(
    video_id: str, timestamp: float, boxes: np.ndarray,
    multiclass_scores: np.ndarray, label_ids: Sequence[int],
    max_rows: Optional[int] = 50) -> List[str]:
  """Csv lines of multi-label detections: the top (box, class) pairs.

  Args:
    video_id, timestamp, boxes: as in `detection_rows`.
    multiclass_scores: float `[n, num_classes]`, a score per class.
    label_ids: the label id of each score column.
    max_rows: keep the top-scoring rows only (the official tool reads at
      most 50 per keyframe, the default); None writes all.
  """
  boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
  multiclass_scores = np.asarray(multiclass_scores, dtype=np.float64)
  label_ids = np.asarray(label_ids, dtype=np.int64).reshape(-1)
  if multiclass_scores.shape != (len(boxes), len(label_ids)):
    raise ValueError(
        f'detections of {video_id},{timestamp}: multiclass_scores have shape '
        f'{multiclass_scores.shape}, expected [{len(boxes)}, '
        f'{len(label_ids)}]')
  flat_scores = multiclass_scores.reshape(-1)
  order = np.argsort(-flat_scores, kind='stable')
  if max_rows is not None:
    order = order[:max_rows]
  box_index, column = np.divmod(order, len(label_ids))
  return detection_rows(video_id, timestamp, boxes[box_index],
                        flat_scores[order], label_ids[column])


def write_detections_csv(path: str, rows: Iterable[str]) -> int:
  """Writes csv lines atomically; returns the number of rows written."""
  count = 0
  with reporting.atomic_output(path) as temporary:
    with open(temporary, 'w', encoding='utf-8', newline='') as f:
      for row in rows:
        f.write(row + '\n')
        count += 1
  return count
