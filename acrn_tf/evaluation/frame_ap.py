"""Frame-AP: PASCAL VOC AP per class over all keyframes, mean over classes.

One evaluator object shared by the training loop, `tools/evaluate.py` and the
tests, in the Detectron2 shape (`reset`, add data, `evaluate`):

  evaluator = FrameAPEvaluator({1: 'throw', 2: 'catch'})
  evaluator.add_groundtruth(key, boxes, [[1], [1, 2]])
  evaluator.add_detections(key, boxes, multiclass_scores)
  metrics = evaluator.evaluate()

Definition: a ground-truth box with several labels is a positive of each of
its classes; a detection box carries a score for every class and is scored
per class (one ranked entry per box and class). Per class and keyframe the
detections are ranked by descending score and matched greedily to the
ground truth (`average_precision.match_greedy`, the VOC rule: each gt box
once, a duplicate is a false positive). Detections of a keyframe without
ground truth are false positives. Over all keyframes a class's detections
are ranked as the OD API ranks them (`average_precision.precision_recall`),
keyframes in the order their detections were added. AP per class is the
VOC all-point interpolated area (`average_precision.average_precision`); the
mean is over classes with ground truth. Detection boxes with ymin >= ymax or
xmin >= xmax are dropped, as the OD API drops them. The OD API's `difficult` and
`group_of` flags have no counterpart: action datasets do not annotate them.

Subclasses change the box IoU, the matching, the degenerate-box rule and the
AP through `_box_iou`, `_match`, `_valid_detection_mask` and
`_build_metrics` (`act_protocol.ActFrameAPEvaluator` does).
"""

from typing import Dict, List, Mapping, Optional, Sequence, Union

from absl import logging
import numpy as np

from acrn_tf.evaluation import average_precision
from acrn_tf.evaluation import eval_dict as eval_dict_lib

LabelsLike = Union[np.ndarray, Sequence[Union[int, Sequence[int]]]]


class _Keyframe:
  """The boxes of one keyframe and their (box, class) entries."""

  def __init__(self):
    self.groundtruth_boxes = None   # [m, 4]
    self.groundtruth_box_index = None  # [k] entry -> row of boxes
    self.groundtruth_classes = None  # [k] label ids
    self.detection_boxes = None
    self.detection_box_index = None
    self.detection_classes = None
    self.detection_scores = None
    self.image_size = None  # (height, width) in pixels, if known


class FrameAPEvaluator:
  """Accumulates keyframes and computes frame-AP (see the module docstring).

  Keyframes may be added in any order; ground truth and detections of a
  keyframe may come in either order. A keyframe key added twice for the same
  side is ignored with a warning (the OD API's rule, so a repeated eval
  input does not count twice).
  """

  def __init__(self,
               categories: Mapping[int, str],
               iou_thresholds: Sequence[float] = (0.5,),
               max_detections_per_keyframe: Optional[int] = None,
               metric_name: str = 'frame_ap'):
    """Creates the evaluator.

    Args:
      categories: label-map id -> name of every class. Ids are >= 1; the
        columns of multi-hot labels and of multi-class scores follow the ids
        in ascending order (`standard_fields` convention).
      iou_thresholds: thresholds to evaluate; `mean_ap` is at the first.
      max_detections_per_keyframe: keep at most this many (box, class)
        entries per keyframe, the top scores (None keeps all).
      metric_name: the `metric` field of the result.
    """
    if not categories:
      raise ValueError('categories: expected at least one class')
    bad = [i for i in categories if int(i) < 1]
    if bad:
      raise ValueError(f'categories: label ids start at 1, got {bad}')
    if max_detections_per_keyframe is not None and (
        max_detections_per_keyframe < 1):
      raise ValueError('max_detections_per_keyframe: expected >= 1 or None, '
                       f'got {max_detections_per_keyframe}')
    self._categories = {int(i): str(n) for i, n in categories.items()}
    self._label_ids = np.array(sorted(self._categories), dtype=np.int64)
    self._iou_thresholds = average_precision.check_iou_thresholds(
        iou_thresholds)
    self._max_detections = max_detections_per_keyframe
    self._metric_name = metric_name
    self.reset()

  @property
  def categories(self) -> Dict[int, str]:
    return dict(self._categories)

  @property
  def label_ids(self) -> np.ndarray:
    """The label id of each column of multi-hot labels and scores."""
    return self._label_ids.copy()

  def reset(self) -> None:
    """Forgets every keyframe added."""
    self._keyframes: Dict[str, _Keyframe] = {}
    self._detection_order: List[str] = []

  def _keyframe(self, key: str) -> _Keyframe:
    if key not in self._keyframes:
      self._keyframes[key] = _Keyframe()
    return self._keyframes[key]

  def add_groundtruth(self, keyframe_key: str, boxes: np.ndarray,
                      labels: LabelsLike) -> None:
    """Adds the ground truth of one keyframe.

    Args:
      keyframe_key: the keyframe's unique id (e.g.
        `eval_dict.keyframe_key(video_id, timestamp)`).
      boxes: float `[m, 4]` boxes `[ymin, xmin, ymax, xmax]`, normalised (or
        absolute, consistently with the detections).
      labels: either a numpy `[m, num_classes]` multi-hot array (columns in
        ascending label id), or a length-m sequence whose items are a label
        id or a sequence of label ids. The same box may also appear on
        several rows with one label each.

    Raises:
      ValueError: on bad shapes or a label id not in the categories.
    """
    keyframe = self._keyframe(keyframe_key)
    if keyframe.groundtruth_boxes is not None:
      logging.warning('frame_ap: ground truth of %s added twice; ignored.',
                      keyframe_key)
      return
    boxes = _check_boxes(boxes, f'ground truth of {keyframe_key}')
    box_index, classes = self._expand_labels(labels, len(boxes), keyframe_key)
    keyframe.groundtruth_boxes = boxes
    keyframe.groundtruth_box_index = box_index
    keyframe.groundtruth_classes = classes

  def add_detections(self, keyframe_key: str, boxes: np.ndarray,
                     scores: np.ndarray,
                     classes: Optional[np.ndarray] = None) -> None:
    """Adds the detections of one keyframe.

    Args:
      keyframe_key: the keyframe's unique id.
      boxes: float `[n, 4]` boxes `[ymin, xmin, ymax, xmax]`, as the gt's.
      scores: float `[n, num_classes]`, a score per class (columns in
        ascending label id), or `[n]` when `classes` is given.
      classes: optional int `[n]` label ids, one class per detection.

    Raises:
      ValueError: on bad shapes or a label id not in the categories.
    """
    where = f'detections of {keyframe_key}'
    keyframe = self._keyframe(keyframe_key)
    if keyframe.detection_boxes is not None:
      logging.warning('frame_ap: detections of %s added twice; ignored.',
                      keyframe_key)
      return
    boxes = _check_boxes(boxes, where)
    scores = np.asarray(scores, dtype=np.float64)
    num_boxes = len(boxes)
    if classes is None:
      if scores.shape != (num_boxes, len(self._label_ids)):
        raise ValueError(
            f'{where}: scores have shape {scores.shape}, expected '
            f'[{num_boxes}, {len(self._label_ids)}] (one column per class) '
            'or pass classes')
      box_index = np.repeat(np.arange(num_boxes), len(self._label_ids))
      entry_classes = np.tile(self._label_ids, num_boxes)
      entry_scores = scores.reshape(-1)
    else:
      entry_classes = np.asarray(classes).reshape(-1).astype(np.int64)
      if scores.shape != (num_boxes,) or entry_classes.shape != (num_boxes,):
        raise ValueError(
            f'{where}: with classes, scores {scores.shape} and classes '
            f'{entry_classes.shape} must both be [{num_boxes}]')
      self._check_label_ids(entry_classes, where)
      box_index = np.arange(num_boxes)
      entry_scores = scores
    valid = self._valid_detection_mask(boxes)[box_index]
    if not valid.all():
      logging.info('frame_ap: %s: %d entries with degenerate boxes dropped.',
                   where, int((~valid).sum()))
    box_index = box_index[valid]
    entry_classes = entry_classes[valid]
    entry_scores = entry_scores[valid]
    if (self._max_detections is not None and
        len(entry_scores) > self._max_detections):
      keep = np.argsort(-entry_scores, kind='stable')[:self._max_detections]
      keep.sort()
      box_index, entry_classes, entry_scores = (
          box_index[keep], entry_classes[keep], entry_scores[keep])
    keyframe.detection_boxes = boxes
    keyframe.detection_box_index = box_index
    keyframe.detection_classes = entry_classes
    keyframe.detection_scores = entry_scores
    self._detection_order.append(keyframe_key)

  def add_eval_dict(self, eval_dict: Mapping[str, np.ndarray]) -> None:
    """Adds one batch of model outputs and their ground truth.

    Args:
      eval_dict: numpy arrays of one batch (see
        `eval_dict.unbatch_eval_dict`). Keys
        of the keyframes are `keyframe_key(video_id, keyframe_timestamp)`.

    Raises:
      ValueError: naming the missing or misshapen field.
    """
    for example in eval_dict_lib.unbatch_eval_dict(eval_dict):
      key = eval_dict_lib.keyframe_key(example.video_id, example.timestamp)
      self.add_groundtruth(key, example.groundtruth_boxes,
                           example.groundtruth_labels)
      if example.classes is None:
        self.add_detections(key, example.detection_boxes, example.scores)
      else:
        self.add_detections(key, example.detection_boxes, example.scores,
                            example.classes)

  def _check_label_ids(self, ids: np.ndarray, where: str) -> None:
    unknown = sorted(set(ids.tolist()) - set(self._categories))
    if unknown:
      raise ValueError(f'{where}: label ids {unknown} are not in the label '
                       f'map (ids {sorted(self._categories)})')

  def _expand_labels(self, labels, num_boxes, keyframe_key):
    """(box index, label id) of each (box, class) ground-truth entry."""
    where = f'ground truth of {keyframe_key}'
    if isinstance(labels, np.ndarray) and labels.ndim == 2:
      if labels.shape != (num_boxes, len(self._label_ids)):
        raise ValueError(
            f'{where}: multi-hot labels have shape {labels.shape}, expected '
            f'[{num_boxes}, {len(self._label_ids)}]')
      rows, columns = np.nonzero(labels > 0)
      return rows.astype(np.int64), self._label_ids[columns]
    if (isinstance(labels, np.ndarray) and labels.ndim == 1 and
        np.issubdtype(labels.dtype, np.integer)):
      labels = labels.astype(np.int64)
      if len(labels) != num_boxes:
        raise ValueError(f'{where}: {len(labels)} labels for {num_boxes} '
                         'boxes')
      self._check_label_ids(labels, where)
      return np.arange(num_boxes, dtype=np.int64), labels
    labels = list(labels)
    if len(labels) != num_boxes:
      raise ValueError(f'{where}: {len(labels)} label entries for '
                       f'{num_boxes} boxes')
    box_index, classes = [], []
    for row, item in enumerate(labels):
      ids = np.atleast_1d(np.asarray(item)).reshape(-1)
      if ids.size and not np.issubdtype(ids.dtype, np.integer):
        if not np.all(ids == np.rint(ids)):
          raise ValueError(f'{where}: box {row} has non-integer labels '
                           f'{ids.tolist()}')
      ids = ids.astype(np.int64)
      box_index.extend([row] * len(ids))
      classes.extend(ids.tolist())
    classes = np.array(classes, dtype=np.int64)
    self._check_label_ids(classes, where)
    return np.array(box_index, dtype=np.int64), classes

  def evaluate(self) -> Dict:
    """Frame-AP of everything added so far.

    Returns:
      The dict of `average_precision.build_metrics` (mean AP, per-class AP
      by id and name at each threshold, P/R curves) plus 'num_keyframes'
      (keyframes with ground truth or detections) and
      'num_groundtruth_keyframes'.
    """
    thresholds = self._iou_thresholds
    num_groundtruth = {i: 0 for i in self._categories}
    for keyframe in self._keyframes.values():
      if keyframe.groundtruth_classes is not None:
        ids, counts = np.unique(keyframe.groundtruth_classes,
                                return_counts=True)
        for class_id, count in zip(ids.tolist(), counts.tolist()):
          num_groundtruth[class_id] += count
    parts = [self._match_keyframe(self._keyframes[key])
             for key in self._detection_order]
    parts = [p for p in parts if p[0].size]
    if parts:
      classes = np.concatenate([p[0] for p in parts])
      all_scores = np.concatenate([p[1] for p in parts])
      all_flags = np.concatenate([p[2] for p in parts], axis=1)
    else:
      classes = np.zeros(0, dtype=np.int64)
      all_scores = np.zeros(0)
      all_flags = np.zeros((len(thresholds), 0), dtype=bool)
    # Group by class, keeping keyframe order within a class.
    order = np.argsort(classes, kind='stable')
    classes, all_scores = classes[order], all_scores[order]
    all_flags = all_flags[:, order]
    scores, flags = {}, {t: {} for t in thresholds}
    for class_id, (a, b) in _runs(classes):
      scores[class_id] = all_scores[a:b]
      for t_index, threshold in enumerate(thresholds):
        flags[threshold][class_id] = all_flags[t_index, a:b]
    metrics = self._build_metrics(scores, flags, num_groundtruth)
    metrics['num_keyframes'] = len(self._keyframes)
    metrics['num_groundtruth_keyframes'] = sum(
        k.groundtruth_boxes is not None for k in self._keyframes.values())
    return metrics

  def _match_keyframe(self, keyframe):
    """One keyframe's entries ranked per class, with their tp flags.

    Returns:
      (label ids `[k]`, scores `[k]`, flags bool `[num_thresholds, k]`),
      entries grouped by class, each class by descending score (stably).
    """
    scores = keyframe.detection_scores
    order = np.lexsort((-scores, keyframe.detection_classes))
    classes = keyframe.detection_classes[order]
    scores = scores[order]
    box_rows = keyframe.detection_box_index[order]
    flags = np.zeros((len(self._iou_thresholds), len(order)), dtype=bool)
    gt_classes = keyframe.groundtruth_classes
    if gt_classes is None or not np.isin(classes, gt_classes).any():
      return classes, scores, flags
    box_iou = self._box_iou(keyframe)
    gt_class_set = set(gt_classes.tolist())
    for class_id, (a, b) in _runs(classes):
      if class_id not in gt_class_set:
        continue
      gt_rows = keyframe.groundtruth_box_index[gt_classes == class_id]
      class_iou = box_iou[box_rows[a:b]][:, gt_rows]
      for t_index, threshold in enumerate(self._iou_thresholds):
        flags[t_index, a:b] = self._match(class_iou, threshold)
    return classes, scores, flags

  def _valid_detection_mask(self, boxes: np.ndarray) -> np.ndarray:
    """bool `[n]`: the detection boxes kept (VOC: non-degenerate ones)."""
    return average_precision.valid_box_mask(boxes)

  def _box_iou(self, keyframe: _Keyframe) -> np.ndarray:
    """`[num_detection_boxes, num_groundtruth_boxes]` IoU of a keyframe."""
    return average_precision.iou(keyframe.detection_boxes,
                                 keyframe.groundtruth_boxes)

  def _match(self, iou_matrix: np.ndarray, threshold: float) -> np.ndarray:
    """True-positive flags of one keyframe's ranked detections of a class."""
    return average_precision.match_greedy(iou_matrix, threshold)

  def _build_metrics(self, scores, flags, num_groundtruth) -> Dict:
    """The metrics dict from every class's scores and flags (VOC AP)."""
    return average_precision.build_metrics(
        self._metric_name, self._categories, self._iou_thresholds, scores,
        flags, num_groundtruth)


def _runs(sorted_values: np.ndarray):
  """(value, (start, end)) of each run of equal values."""
  if not sorted_values.size:
    return []
  starts = np.flatnonzero(np.concatenate(
      [[True], sorted_values[1:] != sorted_values[:-1]]))
  ends = np.concatenate([starts[1:], [len(sorted_values)]])
  return [(int(sorted_values[a]), (int(a), int(b)))
          for a, b in zip(starts, ends)]


def _check_boxes(boxes, where: str) -> np.ndarray:
  boxes = np.asarray(boxes, dtype=np.float64)
  if boxes.size == 0:
    return boxes.reshape(0, 4)
  if boxes.ndim != 2 or boxes.shape[1] != 4:
    raise ValueError(f'{where}: boxes have shape {boxes.shape}, expected '
                     '[n, 4] as [ymin, xmin, ymax, xmax]')
  if not np.all(np.isfinite(boxes)):
    raise ValueError(f'{where}: boxes hold non-finite values')
  return boxes
