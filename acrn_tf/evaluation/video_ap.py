"""Video-AP (JHMDB / UCF101-24 style): AP of action tubes per class.

Definitions:
- temporal IoU of two tubes: of their extents [first frame, last frame],
  counted in frames inclusively: |[s1, e1] n [s2, e2]| / |[s1, e1] u [s2, e2]|.
- spatio-temporal IoU = temporal IoU x the mean per-frame box IoU over the
  frames of the temporal intersection that either tube has a box on; a frame
  where only one of them has a box (a gap) counts IoU 0.
- a predicted tube is matched, by descending tube score over all videos, to
  the unmatched ground-truth tube of its video and class with the highest
  ST-IoU; it is a true positive if that ST-IoU >= the threshold (each gt tube
  matched once). This "best unmatched" rule is the one of the JHMDB/UCF101
  evaluation codes (e.g. ACT's), not the VOC rule of frame-AP.
- AP per class is the VOC all-point interpolated area
  (`average_precision.average_precision`), mean over classes with ground
  truth; reported at 0.2, 0.5 and 0.75 by default, with 0.5 the headline and
  the mean of the three as 'mean_ap_over_thresholds'.

Also the JSON format of tubes (`read_tubes_json`, `write_tubes_json`).
"""

import collections
import json
from typing import Dict, List, Mapping, Sequence

import numpy as np

from acrn_tf.evaluation import average_precision
from acrn_tf.evaluation import reporting
from acrn_tf.evaluation import tube_linking

Tube = tube_linking.Tube
DEFAULT_IOU_THRESHOLDS = (0.2, 0.5, 0.75)


def temporal_iou(tube1: Tube, tube2: Tube) -> float:
  """IoU of the two tubes' frame extents, frames counted inclusively."""
  intersection = min(tube1.end, tube2.end) - max(tube1.start, tube2.start) + 1
  if intersection <= 0:
    return 0.0
  union = max(tube1.end, tube2.end) - min(tube1.start, tube2.start) + 1
  return intersection / union


def spatiotemporal_iou(tube1: Tube, tube2: Tube) -> float:
  """Temporal IoU x mean box IoU over the common frames (see module doc)."""
  t_iou = temporal_iou(tube1, tube2)
  if t_iou == 0.0:
    return 0.0
  first = max(tube1.start, tube2.start)
  last = min(tube1.end, tube2.end)
  boxes1 = _boxes_in(tube1, first, last)
  boxes2 = _boxes_in(tube2, first, last)
  frames = sorted(set(boxes1) | set(boxes2))
  total = 0.0
  for frame in frames:
    if frame in boxes1 and frame in boxes2:
      total += average_precision.iou(boxes1[frame][None],
                                     boxes2[frame][None])[0, 0]
  return t_iou * total / len(frames)


def _boxes_in(tube: Tube, first: int, last: int) -> Dict[int, np.ndarray]:
  inside = (tube.frame_indices >= first) & (tube.frame_indices <= last)
  return {int(f): b for f, b in zip(tube.frame_indices[inside],
                                    tube.boxes[inside])}


class VideoAPEvaluator:
  """Accumulates tubes per video and computes video-AP.

  `add_groundtruth` / `add_detections` may be called several times for a
  video: the tubes add up.
  """

  def __init__(self,
               categories: Mapping[int, str],
               iou_thresholds: Sequence[float] = DEFAULT_IOU_THRESHOLDS,
               primary_iou_threshold: float = 0.5):
    """Creates the evaluator.

    Args:
      categories: label-map id -> name of the evaluated classes.
      iou_thresholds: spatio-temporal IoU thresholds evaluated.
      primary_iou_threshold: the threshold of 'mean_ap' (must be among
        `iou_thresholds`).
    """
    if not categories:
      raise ValueError('categories: expected at least one class')
    self._categories = {int(i): str(n) for i, n in categories.items()}
    self._iou_thresholds = average_precision.check_iou_thresholds(
        iou_thresholds)
    if float(primary_iou_threshold) not in self._iou_thresholds:
      raise ValueError(f'primary_iou_threshold {primary_iou_threshold} is '
                       f'not among iou_thresholds {self._iou_thresholds}')
    self._primary = float(primary_iou_threshold)
    self.reset()

  def reset(self) -> None:
    """Forgets every tube added."""
    self._groundtruth: Dict[str, List[Tube]] = collections.defaultdict(list)
    self._detections: Dict[str, List[Tube]] = collections.defaultdict(list)

  def _check(self, tubes: Sequence[Tube], where: str) -> List[Tube]:
    tubes = list(tubes)
    for index, tube in enumerate(tubes):
      if not isinstance(tube, Tube):
        raise ValueError(f'{where}[{index}]: expected a Tube, got '
                         f'{type(tube).__name__}')
      if tube.label_id not in self._categories:
        raise ValueError(f'{where}[{index}]: label id {tube.label_id} is not '
                         f'in the label map (ids {sorted(self._categories)})')
    return tubes

  def add_groundtruth(self, video_id: str, tubes: Sequence[Tube]) -> None:
    """Adds ground-truth tubes of a video (one label per tube)."""
    self._groundtruth[video_id].extend(
        self._check(tubes, f'ground truth of {video_id}'))

  def add_detections(self, video_id: str, tubes: Sequence[Tube]) -> None:
    """Adds predicted tubes of a video (scored by `Tube.score`)."""
    self._detections[video_id].extend(
        self._check(tubes, f'detections of {video_id}'))

  def evaluate(self) -> Dict:
    """Video-AP of everything added so far.

    Returns:
      The dict of `average_precision.build_metrics` (metric 'video_ap',
      mean AP at the primary threshold, per-class AP by id and name at each
      threshold, P/R curves), plus 'mean_ap_over_thresholds' (mean of the
      per-threshold mAPs) and 'num_videos'.
    """
    num_groundtruth = collections.Counter(
        tube.label_id for tubes in self._groundtruth.values()
        for tube in tubes)
    scores = {}
    flags = {t: {} for t in self._iou_thresholds}
    for class_id in self._categories:
      detections = [(video, tube) for video, tubes in self._detections.items()
                    for tube in tubes if tube.label_id == class_id]
      class_scores = np.array([tube.score for _, tube in detections],
                              dtype=np.float64)
      order = np.argsort(-class_scores, kind='stable')
      scores[class_id] = class_scores[order]
      overlaps = [self._overlaps(video, tube, class_id)
                  for video, tube in (detections[i] for i in order)]
      videos = [detections[i][0] for i in order]
      for threshold in self._iou_thresholds:
        flags[threshold][class_id] = match_best_unmatched(videos, overlaps,
                                                          threshold)
    metrics = average_precision.build_metrics(
        'video_ap', self._categories, self._iou_thresholds, scores, flags,
        num_groundtruth, primary_iou_threshold=self._primary)
    means = list(metrics['mean_ap_by_iou'].values())
    metrics['mean_ap_over_thresholds'] = (
        float(np.mean(means)) if not np.any(np.isnan(means)) else
        float('nan'))
    metrics['num_videos'] = len(set(self._groundtruth) |
                                set(self._detections))
    return metrics

  def _overlaps(self, video, tube, class_id) -> np.ndarray:
    """ST-IoU of a predicted tube with each gt tube of its video and class."""
    gt_tubes = [g for g in self._groundtruth.get(video, ())
                if g.label_id == class_id]
    return np.array([spatiotemporal_iou(tube, g) for g in gt_tubes],
                    dtype=np.float64)


def match_best_unmatched(videos: List[str], overlaps: List[np.ndarray],
                         threshold: float) -> np.ndarray:
  """True-positive flags of ranked tubes, each gt tube matched once.

  Args:
    videos: the video of each ranked tube.
    overlaps: float `[num_gt]` per ranked tube, its ST-IoU with each gt tube
      of its video and class.
    threshold: the least ST-IoU of a true positive.

  Returns:
    bool `[len(videos)]`: each tube takes the free gt tube it overlaps most.
  """
  taken: Dict[str, np.ndarray] = {}
  flags = np.zeros(len(videos), dtype=bool)
  for i, (video, ious) in enumerate(zip(videos, overlaps)):
    if not ious.size:
      continue
    used = taken.setdefault(video, np.zeros(ious.size, dtype=bool))
    free = np.where(used, -1.0, ious)
    best = int(np.argmax(free))
    if free[best] >= threshold:
      flags[i] = True
      used[best] = True
  return flags


def tubes_to_json(tubes_by_video: Mapping[str, Sequence[Tube]]) -> str:
  """The JSON text of tubes: {"tubes": [{video_id, label_id, ...}, ...]}."""
  records = []
  for video_id, tubes in tubes_by_video.items():
    for tube in tubes:
      records.append({
          'video_id': video_id,
          'label_id': tube.label_id,
          'score': tube.score,
          'frame_indices': tube.frame_indices.tolist(),
          'boxes': np.round(tube.boxes, 5).tolist(),
          'frame_scores': tube.frame_scores.tolist(),
      })
  return json.dumps({'tubes': records}) + '\n'


def write_tubes_json(path: str,
                     tubes_by_video: Mapping[str, Sequence[Tube]]) -> None:
  """Writes tubes as JSON atomically.

  Each record: video_id, label_id, score, frame_indices `[T]`, boxes
  `[T, 4]` `[ymin, xmin, ymax, xmax]` normalised, frame_scores `[T]`.
  """
  text = tubes_to_json(tubes_by_video)
  with reporting.atomic_output(path) as temporary:
    with open(temporary, 'w', encoding='utf-8') as f:
      f.write(text)


def read_tubes_json(path: str) -> Dict[str, List[Tube]]:
  """Reads tubes written by `write_tubes_json`: video_id -> tubes.

  `score` and `frame_scores` are optional (ground truth).

  Raises:
    ValueError: naming the file and the tube index of a bad record.
  """
  with open(path, encoding='utf-8') as f:
    try:
      content = json.load(f)
    except json.JSONDecodeError as e:
      raise ValueError(f'{path}: not JSON: {e}') from e
  if not isinstance(content, dict) or not isinstance(
      content.get('tubes'), list):
    raise ValueError(f'{path}: expected an object {{"tubes": [...]}}')
  tubes = collections.OrderedDict()
  for index, record in enumerate(content['tubes']):
    where = f'{path}: tubes[{index}]'
    if not isinstance(record, dict):
      raise ValueError(f'{where}: expected an object')
    missing = [k for k in ('video_id', 'label_id', 'frame_indices', 'boxes')
               if k not in record]
    if missing:
      raise ValueError(f'{where}: missing {missing}')
    try:
      tube = Tube(label_id=record['label_id'],
                  frame_indices=record['frame_indices'],
                  boxes=record['boxes'],
                  frame_scores=record.get('frame_scores'),
                  score=record.get('score'))
    except (TypeError, ValueError) as e:
      raise ValueError(f'{where}: {e}') from e
    tubes.setdefault(str(record['video_id']), []).append(tube)
  return dict(tubes)
