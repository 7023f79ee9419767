"""The JHMDB / UCF101-24 protocol of the ACT detector's evaluation code.

The frame-AP and video-AP figures that papers report on JHMDB and UCF101-24
(this one's 77.9 / 80.1 on JHMDB among them) come from the evaluation code of
Kalogeiton et al.'s ACT detector (ICCV 2017), which later detectors reuse
(it is republished with MOC-Detector, `src/ACT.py` and
`src/ACT_utils/ACT_utils.py`). It differs from PASCAL VOC (`frame_ap`,
`video_ap`) on each of these points, all followed here:

- AP is the trapezoid rule over the raw precision/recall points, one after
  each ranked detection, starting at (recall 0, precision 1), with no
  precision envelope (`trapezoid_ap`); the points are float32, as there.
- box IoU counts inclusive pixels: a box `[x1, x2]` is `x2 - x1 + 1` pixels
  wide, and the intersection likewise (`inclusive_pixel_iou`). Normalised
  boxes are scaled to pixels by the frame size first (`to_pixels`: the
  inverse of the JHMDB converter's `x / width`).
- a frame detection is matched against the groundtruth boxes of its frame
  and class that are still unmatched: it takes the free box it overlaps most
  (`match_unmatched`), so a duplicate may take a second box where VOC counts
  it as a false positive.
- detected tubes go through non-maximum suppression at spatio-temporal IoU
  0.3, per video and class, before video-AP (`tube_nms`).
- the mean is over all labels of the label map: a label without groundtruth
  scores AP 0 (the ACT code would divide by zero when such a label has
  detections; it is 0 here, with a warning).
- video-AP 0.5:0.95 is the mean of the video mAPs at 0.5 + 0.05 i,
  i = 0..9 (`VIDEO_THRESHOLDS_050_095`).

Detections are ranked by descending score, ties in the order they were
added (ACT's order is its detection file's, video by video, frame by frame).
Where ACT's tube IoU requires both tubes to have a box on every frame of
their common extent (it asserts so), a frame where only one has a box
counts IoU 0 here, as in `video_ap`.

Written here rather than imported: the ACT code is a script over its own
pickles, not a library.
"""

import collections
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from absl import logging
import numpy as np

from acrn_tf.core import standard_fields
from acrn_tf.evaluation import average_precision
from acrn_tf.evaluation import eval_dict as eval_dict_lib
from acrn_tf.evaluation import frame_ap
from acrn_tf.evaluation import tube_linking
from acrn_tf.evaluation import video_ap

PROTOCOL = ('ACT (JHMDB/UCF101-24 evaluation code of the ACT detector, as '
            'republished with MOC-Detector: trapezoid AP from (0, 1), '
            'inclusive-pixel IoU, matching to unmatched boxes, tube NMS 0.3, '
            'mean over all labels)')
TUBE_NMS_IOU = 0.3
# As the ACT code makes them: 0.5 + 0.05 * i, in floating point.
VIDEO_THRESHOLDS_050_095 = tuple(0.5 + 0.05 * i for i in range(10))
MEAN_AP_050_095 = 'mean_ap_0.5:0.95'

ImageSize = Tuple[float, float]
Tube = tube_linking.Tube
_INPUT = standard_fields.InputDataFields


def to_pixels(boxes: np.ndarray, image_size: Optional[ImageSize]
              ) -> np.ndarray:
  """`[n, 4]` `[ymin, xmin, ymax, xmax]` times (h, w, h, w); as is if None."""
  boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
  if image_size is None:
    return boxes
  height, width = (float(v) for v in image_size)
  return boxes * np.array([height, width, height, width])


def inclusive_pixel_iou(boxes1: np.ndarray, boxes2: np.ndarray) -> np.ndarray:
  """Pairwise IoU of pixel boxes counted inclusively (ACT's `iou2d`).

  A box `[ymin, xmin, ymax, xmax]` covers `(ymax - ymin + 1) x (xmax - xmin
  + 1)` pixels; the intersection spans `min(max) + 1 - max(min)` in each
  axis (0 if negative). The operations run in ACT's order, so the floats
  are its floats.

  Args:
    boxes1: float `[n, 4]` pixel boxes.
    boxes2: float `[m, 4]` pixel boxes.

  Returns:
    float64 `[n, m]`.
  """
  boxes1 = np.asarray(boxes1, dtype=np.float64).reshape(-1, 4)
  boxes2 = np.asarray(boxes2, dtype=np.float64).reshape(-1, 4)
  ymin1, xmin1, ymax1, xmax1 = (boxes1[:, i:i + 1] for i in range(4))
  ymin2, xmin2, ymax2, xmax2 = (boxes2[:, i] for i in range(4))
  width = np.maximum(0, np.minimum(xmax1 + 1, xmax2 + 1) -
                     np.maximum(xmin1, xmin2))
  height = np.maximum(0, np.minimum(ymax1 + 1, ymax2 + 1) -
                      np.maximum(ymin1, ymin2))
  overlap = width * height
  area1 = (xmax1 - xmin1 + 1) * (ymax1 - ymin1 + 1)
  area2 = (xmax2 - xmin2 + 1) * (ymax2 - ymin2 + 1)
  return overlap / (area1 + area2 - overlap)


def match_unmatched(iou_matrix: np.ndarray, iou_threshold: float
                    ) -> np.ndarray:
  """True-positive flags: each ranked detection takes its best free box.

  Detections are visited in row order (ranked by descending score); each
  takes, among the groundtruth boxes not taken yet, the one it overlaps
  most (the first on ties), if that IoU is >= `iou_threshold`.

  Args:
    iou_matrix: float `[num_detections, num_groundtruth]`, rows ranked.
    iou_threshold: the least IoU of a true positive.

  Returns:
    bool `[num_detections]`.
  """
  num_detections, num_groundtruth = iou_matrix.shape
  flags = np.zeros(num_detections, dtype=bool)
  free = np.ones(num_groundtruth, dtype=bool)
  for i in range(num_detections):
    if not free.any():
      break
    candidates = np.flatnonzero(free)
    best = candidates[int(np.argmax(iou_matrix[i, candidates]))]
    if iou_matrix[i, best] >= iou_threshold:
      flags[i] = True
      free[best] = False
  return flags


def precision_recall_points(is_true_positive: np.ndarray,
                            num_groundtruth: int) -> np.ndarray:
  """ACT's `pr` array: float32 `[n + 1, 2]` of (precision, recall).

  Row 0 is (1, 0); row i + 1 follows the i-th ranked detection.

  Args:
    is_true_positive: bool `[n]`, in ranked order.
    num_groundtruth: groundtruth instances (recall is 0 when there are
      none).
  """
  flags = np.asarray(is_true_positive, dtype=bool).reshape(-1)
  points = np.empty((len(flags) + 1, 2), dtype=np.float32)
  points[0] = (1.0, 0.0)
  true_positives = np.cumsum(flags).astype(np.float64)
  ranks = np.arange(1, len(flags) + 1, dtype=np.float64)
  points[1:, 0] = true_positives / ranks
  points[1:, 1] = (true_positives / num_groundtruth if num_groundtruth
                   else 0.0)
  return points


def trapezoid_ap(points: np.ndarray) -> float:
  """ACT's `pr_to_ap`: the trapezoid area under the raw points, no envelope.

  Args:
    points: `[n + 1, 2]` (precision, recall) from `precision_recall_points`.
  """
  recall_steps = points[1:, 1] - points[:-1, 1]
  precision_sums = points[1:, 0] + points[:-1, 0]
  return float(np.sum(recall_steps * precision_sums * 0.5))


def build_metrics(metric: str,
                  categories: Mapping[int, str],
                  iou_thresholds: Sequence[float],
                  scores_by_class: Mapping[int, np.ndarray],
                  true_positives_by_threshold: Mapping[
                      float, Mapping[int, np.ndarray]],
                  num_groundtruth_by_class: Mapping[int, int],
                  primary_iou_threshold: Optional[float] = None) -> Dict:
  """AP per class and threshold, ACT's way, in `build_metrics`' layout.

  Each class's detections are ranked by descending score (ties keep their
  order), AP is `trapezoid_ap` and the mean is over every class of
  `categories`. Arguments and the returned dict are those of
  `average_precision.build_metrics`, with 'protocol' PROTOCOL; a class
  without groundtruth has AP 0.
  """
  if primary_iou_threshold is None:
    primary_iou_threshold = iou_thresholds[0]
  classes = [{'id': int(i), 'name': categories[i],
              'num_groundtruth': int(num_groundtruth_by_class.get(i, 0)),
              'num_detections': int(len(scores_by_class.get(i, ()))),
              'ap_by_iou': {}} for i in sorted(categories)]
  mean_ap_by_iou, pr_curves = {}, {}
  for threshold in iou_thresholds:
    key = average_precision.iou_key(threshold)
    pr_curves[key] = {}
    for entry in classes:
      class_id = entry['id']
      scores = np.asarray(scores_by_class.get(class_id, np.zeros(0)))
      flags = np.asarray(true_positives_by_threshold[threshold].get(
          class_id, np.zeros(0, dtype=bool)), dtype=bool)
      order = np.argsort(-scores, kind='stable')
      points = precision_recall_points(flags[order],
                                       entry['num_groundtruth'])
      entry['ap_by_iou'][key] = trapezoid_ap(points)
      pr_curves[key][class_id] = {'precision': points[1:, 0],
                                  'recall': points[1:, 1]}
    mean_ap_by_iou[key] = float(np.mean(
        [e['ap_by_iou'][key] for e in classes]))
  missing = [e['id'] for e in classes if e['num_groundtruth'] == 0]
  if missing:
    logging.warning('%s: classes without groundtruth score AP 0 in the ACT '
                    'mean: %s', metric, missing)
  return {
      'metric': metric,
      'protocol': PROTOCOL,
      'iou_thresholds': [float(t) for t in iou_thresholds],
      'primary_iou_threshold': float(primary_iou_threshold),
      'mean_ap': mean_ap_by_iou[average_precision.iou_key(
          primary_iou_threshold)],
      'mean_ap_by_iou': mean_ap_by_iou,
      'classes': classes,
      'pr_curves': pr_curves,
  }


class ActFrameAPEvaluator(frame_ap.FrameAPEvaluator):
  """Frame-AP under the ACT protocol (see the module docstring).

  Used as `frame_ap.FrameAPEvaluator`. Boxes are normalised and scaled to
  pixels by each keyframe's frame size (`image_size` of `add_groundtruth`,
  else `original_frame_shape` of an eval dict, else the constructor's), or
  are pixels already with `boxes_normalized=False`.
  """

  def __init__(self,
               categories: Mapping[int, str],
               iou_thresholds: Sequence[float] = (0.5,),
               max_detections_per_keyframe: Optional[int] = None,
               metric_name: str = 'frame_ap_act',
               image_size: Optional[ImageSize] = None,
               boxes_normalized: bool = True):
    """Creates the evaluator.

    Args:
      categories, iou_thresholds, max_detections_per_keyframe, metric_name:
        as in `frame_ap.FrameAPEvaluator`.
      image_size: (height, width) in pixels of every frame, unless a
        keyframe gives its own.
      boxes_normalized: boxes are in [0, 1] (scaled by the frame size) or
        in pixels.
    """
    self._image_size = None if image_size is None else tuple(
        float(v) for v in image_size)
    self._boxes_normalized = boxes_normalized
    super().__init__(categories, iou_thresholds,
                     max_detections_per_keyframe, metric_name)

  def add_groundtruth(self, keyframe_key, boxes, labels,
                      image_size: Optional[ImageSize] = None) -> None:
    """As `FrameAPEvaluator.add_groundtruth`, with the frame's size."""
    super().add_groundtruth(keyframe_key, boxes, labels)
    if image_size is not None:
      self._keyframe(keyframe_key).image_size = tuple(
          float(v) for v in image_size)

  def add_eval_dict(self, eval_dict) -> None:
    """As `FrameAPEvaluator.add_eval_dict`; frame sizes from
    `original_frame_shape` `[b, 2]` when the dict has it."""
    super().add_eval_dict(eval_dict)
    if _INPUT.original_frame_shape not in eval_dict:
      return
    shapes = np.asarray(eval_dict[_INPUT.original_frame_shape]).reshape(-1, 2)
    for example, shape in zip(
        eval_dict_lib.unbatch_eval_dict(eval_dict), shapes):
      key = eval_dict_lib.keyframe_key(example.video_id, example.timestamp)
      self._keyframe(key).image_size = (float(shape[0]), float(shape[1]))

  def _valid_detection_mask(self, boxes):
    # ACT keeps every detection: a 1-pixel box is a valid box there.
    return np.ones(len(boxes), dtype=bool)

  def _box_iou(self, keyframe):
    size = self._size_of(keyframe)
    return inclusive_pixel_iou(to_pixels(keyframe.detection_boxes, size),
                               to_pixels(keyframe.groundtruth_boxes, size))

  def _size_of(self, keyframe) -> Optional[ImageSize]:
    if not self._boxes_normalized:
      return None
    size = keyframe.image_size or self._image_size
    if size is None:
      raise ValueError(
          f'{self._metric_name}: normalised boxes need the frame size for '
          'inclusive-pixel IoU; give image_size (e.g. JHMDB 240, 320) or '
          'boxes_normalized=False for pixel boxes')
    return size

  def _match(self, iou_matrix, threshold):
    return match_unmatched(iou_matrix, threshold)

  def _build_metrics(self, scores, flags, num_groundtruth):
    return build_metrics(self._metric_name, self._categories,
                         self._iou_thresholds, scores, flags,
                         num_groundtruth)


def spatiotemporal_iou(tube1: Tube, tube2: Tube,
                       image_size1: Optional[ImageSize] = None,
                       image_size2: Optional[ImageSize] = None) -> float:
  """ACT's `iou3dt` with inclusive-pixel boxes.

  The mean per-frame IoU over the frames of the common extent (a frame
  where only one tube has a box counts 0) times the temporal IoU of the
  extents, frames counted inclusively.

  Args:
    tube1, tube2: the tubes.
    image_size1, image_size2: (height, width) that scale each tube's
      normalised boxes to pixels (None: pixel boxes).
  """
  first = max(tube1.start, tube2.start)
  last = min(tube1.end, tube2.end)
  if last < first:
    return 0.0
  temporal_intersection = last - first + 1
  temporal_union = max(tube1.end, tube2.end) - min(tube1.start,
                                                   tube2.start) + 1
  boxes1 = _pixel_boxes_in(tube1, first, last, image_size1)
  boxes2 = _pixel_boxes_in(tube2, first, last, image_size2)
  frames = sorted(set(boxes1) | set(boxes2))
  ious = [inclusive_pixel_iou(boxes1[f], boxes2[f])[0, 0]
          if f in boxes1 and f in boxes2 else 0.0 for f in frames]
  return float(np.mean(ious)) * (temporal_intersection / temporal_union)


def _pixel_boxes_in(tube, first, last, image_size) -> Dict[int, np.ndarray]:
  inside = (tube.frame_indices >= first) & (tube.frame_indices <= last)
  boxes = to_pixels(tube.boxes[inside], image_size)
  return {int(f): b[None] for f, b in zip(tube.frame_indices[inside], boxes)}


def tube_nms(tubes: Sequence[Tube], overlap: float = TUBE_NMS_IOU,
             image_size: Optional[ImageSize] = None) -> List[int]:
  """ACT's `nms3dt`: indices of the tubes kept, in the order chosen.

  Repeatedly keeps the best-scoring tube left (the later one on ties, as
  ACT's ascending sort does) and drops the tubes whose spatio-temporal IoU
  with it is above `overlap`.
  """
  scores = np.array([t.score for t in tubes], dtype=np.float64)
  remaining = list(np.argsort(scores, kind='stable'))
  kept = []
  while remaining:
    best = remaining.pop()
    kept.append(int(best))
    remaining = [i for i in remaining if spatiotemporal_iou(
        tubes[i], tubes[best], image_size, image_size) <= overlap]
  return kept


class ActVideoAPEvaluator(video_ap.VideoAPEvaluator):
  """Video-AP under the ACT protocol (see the module docstring).

  Used as `video_ap.VideoAPEvaluator`; each video's detected tubes of a
  class go through `tube_nms` first. Besides the thresholds asked, the
  result holds MEAN_AP_050_095 and 'mean_ap_by_iou_0.5:0.95' (the ten
  thresholds of `VIDEO_THRESHOLDS_050_095`).
  """

  def __init__(self,
               categories: Mapping[int, str],
               iou_thresholds: Sequence[float] = (
                   video_ap.DEFAULT_IOU_THRESHOLDS),
               primary_iou_threshold: float = 0.5,
               image_size: Optional[ImageSize] = None,
               boxes_normalized: bool = True):
    """Creates the evaluator.

    Args:
      categories, iou_thresholds, primary_iou_threshold: as in
        `video_ap.VideoAPEvaluator`.
      image_size: (height, width) in pixels of every video's frames,
        unless a video gives its own.
      boxes_normalized: tube boxes are in [0, 1] or in pixels.
    """
    self._image_size = None if image_size is None else tuple(
        float(v) for v in image_size)
    self._boxes_normalized = boxes_normalized
    self._video_sizes: Dict[str, ImageSize] = {}
    super().__init__(categories, iou_thresholds, primary_iou_threshold)

  def add_groundtruth(self, video_id: str, tubes: Sequence[Tube],
                      image_size: Optional[ImageSize] = None) -> None:
    """As `VideoAPEvaluator.add_groundtruth`, with the frame size."""
    super().add_groundtruth(video_id, tubes)
    if image_size is not None:
      self._video_sizes[video_id] = tuple(float(v) for v in image_size)

  def _size_of(self, video_id: str) -> Optional[ImageSize]:
    if not self._boxes_normalized:
      return None
    size = self._video_sizes.get(video_id, self._image_size)
    if size is None:
      raise ValueError(
          f'video_ap_act: normalised boxes of {video_id} need the frame '
          'size for inclusive-pixel IoU; give image_size (e.g. JHMDB 240, '
          '320) or boxes_normalized=False for pixel boxes')
    return size

  def _flags(self, class_id, thresholds):
    """Scores and per-threshold flags of one class's tubes after NMS."""
    detections = []
    for video, tubes in self._detections.items():
      class_tubes = [t for t in tubes if t.label_id == class_id]
      size = self._size_of(video) if class_tubes else None
      for index in tube_nms(class_tubes, TUBE_NMS_IOU, size):
        detections.append((video, class_tubes[index]))
    scores = np.array([tube.score for _, tube in detections],
                      dtype=np.float64)
    order = np.argsort(-scores, kind='stable')
    videos = [detections[i][0] for i in order]
    overlaps = []
    for i in order:
      video, tube = detections[i]
      size = self._size_of(video)
      overlaps.append(np.array(
          [spatiotemporal_iou(g, tube, size, size)
           for g in self._groundtruth.get(video, ())
           if g.label_id == class_id], dtype=np.float64))
    flags = {t: video_ap.match_best_unmatched(videos, overlaps, t)
             for t in thresholds}
    return scores[order], flags

  def evaluate(self) -> Dict:
    """Video-AP of everything added so far, ACT's way.

    Returns:
      The dict of `build_metrics` (metric 'video_ap_act'), plus
      'mean_ap_over_thresholds' (mean of the mAPs at `iou_thresholds`),
      MEAN_AP_050_095, 'mean_ap_by_iou_0.5:0.95' and 'num_videos'.
    """
    num_groundtruth = collections.Counter(
        tube.label_id for tubes in self._groundtruth.values()
        for tube in tubes)
    asked = list(self._iou_thresholds)
    scores, flags, flags_050_095 = {}, {t: {} for t in asked}, {}
    for class_id in self._categories:
      scores[class_id], by_threshold = self._flags(
          class_id, asked + list(VIDEO_THRESHOLDS_050_095))
      for t in asked:
        flags[t][class_id] = by_threshold[t]
      flags_050_095[class_id] = [by_threshold[t]
                                 for t in VIDEO_THRESHOLDS_050_095]
    metrics = build_metrics('video_ap_act', self._categories, asked, scores,
                            flags, num_groundtruth, self._primary)
    metrics['mean_ap_over_thresholds'] = float(
        np.mean(list(metrics['mean_ap_by_iou'].values())))
    means = []
    for i in range(len(VIDEO_THRESHOLDS_050_095)):
      aps = []
      for class_id in sorted(self._categories):
        order = np.argsort(-scores[class_id], kind='stable')
        points = precision_recall_points(
            flags_050_095[class_id][i][order],
            num_groundtruth.get(class_id, 0))
        aps.append(trapezoid_ap(points))
      means.append(float(np.mean(aps)))
    metrics['mean_ap_by_iou_0.5:0.95'] = means
    metrics[MEAN_AP_050_095] = float(np.mean(means))
    metrics['num_videos'] = len(set(self._groundtruth) |
                                set(self._detections))
    return metrics
