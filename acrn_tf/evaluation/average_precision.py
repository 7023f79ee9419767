"""PASCAL VOC average precision: box IoU, greedy matching, P/R and AP.

The numpy building blocks every evaluator of `acrn_tf.evaluation` shares, with
the arithmetic of the TF Object Detection API's `np_box_ops.iou`,
`per_image_evaluation` and `metrics.compute_precision_recall` /
`compute_average_precision`, which the ActivityNet AVA evaluator runs. Same
operations in the same order give the same floats, so a detection exactly at
the IoU threshold or a tie in scores is decided as the official tool decides.

Why not Model Garden: `official.vision.ops.box_ops.bbox_overlap`,
`official.vision.utils.object_detection.box_list_ops.iou` and
`official.vision.evaluation.instance_metrics.VOC2010AveragePrecision` are
TensorFlow ops in float32 (the AP one is a Keras layer over COCO-style dense
confidence bins). Evaluation here is numpy in float64 on ragged per-keyframe
lists: the TF versions would make the metrics depend on TF, on eager-op
overhead per keyframe, and on float32 rounding that can flip a match at the
threshold against the official evaluator.
"""

from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from absl import logging
import numpy as np

# The 'protocol' of the metrics dicts `build_metrics` makes.
VOC_PROTOCOL = ('PASCAL VOC (all-point interpolated AP, mean over the '
                'classes with groundtruth)')


def iou(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
  """Pairwise intersection over union of two sets of boxes.

  Args:
    boxes1: float `[n, 4]` boxes `[ymin, xmin, ymax, xmax]` (normalised or
      absolute, the same for both sets).
    boxes2: float `[m, 4]` boxes in the same convention.

  Returns:
    float64 `[n, m]`; 0 where the union is empty (two degenerate boxes).
  """
  boxes1 = np.asarray(boxes1, dtype=np.float64).reshape(-1, 4)
  boxes2 = np.asarray(boxes2, dtype=np.float64).reshape(-1, 4)
  ymin1, xmin1, ymax1, xmax1 = np.split(boxes1, 4, axis=1)
  ymin2, xmin2, ymax2, xmax2 = np.split(boxes2, 4, axis=1)
  heights = np.maximum(
      0.0, np.minimum(ymax1, ymax2.T) - np.maximum(ymin1, ymin2.T))
  widths = np.maximum(
      0.0, np.minimum(xmax1, xmax2.T) - np.maximum(xmin1, xmin2.T))
  intersection = heights * widths
  area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
  area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
  union = area1[:, None] + area2[None, :] - intersection
  return np.divide(intersection, union, out=np.zeros_like(intersection),
                   where=union > 0)


def valid_box_mask(boxes: np.ndarray) -> np.ndarray:
  """True for boxes with ymin < ymax and xmin < xmax, `[n]` bool.

  The OD API drops detections failing this before matching (they count
  neither as true nor as false positives); the evaluators here do the same.
  """
  boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
  return (boxes[:, 0] < boxes[:, 2]) & (boxes[:, 1] < boxes[:, 3])


def match_greedy(iou_matrix: np.ndarray, iou_threshold: float) -> np.ndarray:
  """True/false-positive flags of ranked detections against one image's gt.

  The PASCAL VOC rule: detections are visited in row order (the caller ranks
  them by descending score); each takes the ground truth it overlaps most;
  it is a true positive if that IoU >= `iou_threshold` and that ground truth
  is not taken yet, which it then takes. A second detection of a taken box is
  a false positive even if another box it overlaps less is free.

  Args:
    iou_matrix: float `[num_detections, num_groundtruth]`, rows ranked.
    iou_threshold: the least IoU of a true positive.

  Returns:
    bool `[num_detections]`.
  """
  num_detections, num_groundtruth = iou_matrix.shape
  is_true_positive = np.zeros(num_detections, dtype=bool)
  if num_groundtruth == 0:
    return is_true_positive
  best_groundtruth = np.argmax(iou_matrix, axis=1)
  is_taken = np.zeros(num_groundtruth, dtype=bool)
  for i in range(num_detections):
    g = best_groundtruth[i]
    if iou_matrix[i, g] >= iou_threshold and not is_taken[g]:
      is_true_positive[i] = True
      is_taken[g] = True
  return is_true_positive


def precision_recall(scores: np.ndarray, is_true_positive: np.ndarray,
                     num_groundtruth: int) -> Tuple[np.ndarray, np.ndarray]:
  """Precision and recall after each detection, ranked by descending score.

  Ranking is `np.argsort(scores)[::-1]`, as the OD API ranks, so tied
  scores are ordered as the official AVA evaluator orders them.

  Args:
    scores: float `[n]`, the detections of one class over all images.
    is_true_positive: bool `[n]`, from `match_greedy`.
    num_groundtruth: ground-truth instances of the class (> 0).

  Returns:
    (precision, recall), float64 `[n]` each, in ranked order.

  Raises:
    ValueError: on mismatched lengths, num_groundtruth < 1, or more true
      positives than ground truth.
  """
  scores = np.asarray(scores, dtype=np.float64).reshape(-1)
  is_true_positive = np.asarray(is_true_positive, dtype=bool).reshape(-1)
  if scores.shape != is_true_positive.shape:
    raise ValueError(f'scores {scores.shape} and is_true_positive '
                     f'{is_true_positive.shape} must have the same length')
  if num_groundtruth < 1:
    raise ValueError(f'num_groundtruth must be >= 1, got {num_groundtruth}')
  if is_true_positive.sum() > num_groundtruth:
    raise ValueError(f'{int(is_true_positive.sum())} true positives exceed '
                     f'{num_groundtruth} ground-truth instances')
  order = np.argsort(scores)[::-1]
  true_positives = np.cumsum(is_true_positive[order]).astype(np.float64)
  false_positives = np.cumsum(~is_true_positive[order]).astype(np.float64)
  precision = true_positives / (true_positives + false_positives)
  recall = true_positives / num_groundtruth
  return precision, recall


def average_precision(precision: np.ndarray, recall: np.ndarray) -> float:
  """PASCAL VOC (2010+) AP: area under the interpolated P/R curve.

  Precision is made non-increasing in recall (each point takes the best
  precision at any higher recall), then summed over the recall steps: the
  all-point interpolation of VOCdevkit, not the 11-point one.

  Args:
    precision: float `[n]`, from `precision_recall`.
    recall: float `[n]`, non-decreasing.

  Returns:
    AP in [0, 1]; 0.0 when there are no detections (n == 0).

  Raises:
    ValueError: on mismatched lengths, values outside [0, 1] or a decreasing
      recall.
  """
  precision = np.asarray(precision, dtype=np.float64).reshape(-1)
  recall = np.asarray(recall, dtype=np.float64).reshape(-1)
  if precision.shape != recall.shape:
    raise ValueError(f'precision {precision.shape} and recall {recall.shape} '
                     'must have the same length')
  if not precision.size:
    return 0.0
  if precision.min() < 0 or precision.max() > 1:
    raise ValueError('precision must lie in [0, 1]')
  if recall.min() < 0 or recall.max() > 1:
    raise ValueError('recall must lie in [0, 1]')
  if np.any(np.diff(recall) < 0):
    raise ValueError('recall must be non-decreasing')
  recall = np.concatenate([[0.0], recall, [1.0]])
  precision = np.concatenate([[0.0], precision, [0.0]])
  precision = np.maximum.accumulate(precision[::-1])[::-1]
  steps = np.where(recall[1:] != recall[:-1])[0] + 1
  return float(np.sum((recall[steps] - recall[steps - 1]) * precision[steps]))


def iou_key(iou_threshold: float) -> str:
  """The string key of an IoU threshold in metrics dicts, e.g. '0.5'."""
  return f'{float(iou_threshold):g}'


def build_metrics(
    metric: str,
    categories: Mapping[int, str],
    iou_thresholds: Sequence[float],
    scores_by_class: Mapping[int, np.ndarray],
    true_positives_by_threshold: Mapping[float, Mapping[int, np.ndarray]],
    num_groundtruth_by_class: Mapping[int, int],
    primary_iou_threshold: Optional[float] = None,
    protocol: str = VOC_PROTOCOL) -> Dict:
  """AP per class and threshold, their means, and P/R curves, as one dict.

  The layout every evaluator of `acrn_tf.evaluation` returns (and
  `reporting` writes). A class with no ground truth has AP nan and is left
  out of the mean (as in the OD API); a class with ground truth but no
  detections has AP 0.

  Args:
    metric: the metric's name, e.g. 'frame_ap'.
    categories: label-map id -> name of the evaluated classes.
    iou_thresholds: the thresholds evaluated.
    scores_by_class: id -> float `[n]`, every detection's score.
    true_positives_by_threshold: threshold -> id -> bool `[n]`, aligned with
      `scores_by_class`.
    num_groundtruth_by_class: id -> ground-truth instances.
    primary_iou_threshold: the threshold of `mean_ap` (default the first).
    protocol: the 'protocol' field, which names how the figures were made.

  Returns:
    {'metric', 'protocol', 'iou_thresholds', 'primary_iou_threshold',
     'mean_ap': float at the primary threshold (nan if no class has gt),
     'mean_ap_by_iou': {'0.5': float, ...},
     'classes': [{'id', 'name', 'num_groundtruth', 'num_detections',
                  'ap_by_iou': {'0.5': float, ...}}, ...] in id order,
     'pr_curves': {'0.5': {id: {'precision': [n], 'recall': [n]}}}}
    (curves only for classes with ground truth).
  """
  if primary_iou_threshold is None:
    primary_iou_threshold = iou_thresholds[0]
  classes = []
  for class_id in sorted(categories):
    classes.append({
        'id': int(class_id),
        'name': categories[class_id],
        'num_groundtruth': int(num_groundtruth_by_class.get(class_id, 0)),
        'num_detections': int(len(scores_by_class.get(class_id, ()))),
        'ap_by_iou': {},
    })
  mean_ap_by_iou = {}
  pr_curves = {}
  for threshold in iou_thresholds:
    key = iou_key(threshold)
    pr_curves[key] = {}
    aps = []
    for entry in classes:
      class_id = entry['id']
      if entry['num_groundtruth'] == 0:
        entry['ap_by_iou'][key] = float('nan')
        continue
      scores = scores_by_class.get(class_id, np.zeros(0))
      flags = true_positives_by_threshold[threshold].get(
          class_id, np.zeros(0, dtype=bool))
      precision, recall = precision_recall(scores, flags,
                                           entry['num_groundtruth'])
      ap = average_precision(precision, recall)
      entry['ap_by_iou'][key] = ap
      pr_curves[key][class_id] = {'precision': precision, 'recall': recall}
      aps.append(ap)
    mean_ap_by_iou[key] = float(np.mean(aps)) if aps else float('nan')
  missing = [e['id'] for e in classes if e['num_groundtruth'] == 0]
  if missing:
    logging.info('%s: classes without ground truth, left out of the mean: '
                 '%s', metric, missing)
  return {
      'metric': metric,
      'protocol': protocol,
      'iou_thresholds': [float(t) for t in iou_thresholds],
      'primary_iou_threshold': float(primary_iou_threshold),
      'mean_ap': mean_ap_by_iou[iou_key(primary_iou_threshold)],
      'mean_ap_by_iou': mean_ap_by_iou,
      'classes': classes,
      'pr_curves': pr_curves,
  }


def check_iou_thresholds(iou_thresholds: Sequence[float]) -> List[float]:
  """The thresholds as floats; ValueError unless a non-empty list in (0, 1]."""
  thresholds = [float(t) for t in iou_thresholds]
  if not thresholds:
    raise ValueError('iou_thresholds: expected at least one threshold')
  for t in thresholds:
    if not 0.0 < t <= 1.0:
      raise ValueError(f'iou_thresholds: {t} is not in (0, 1]')
  return thresholds
