"""Links per-frame detections of each class into action tubes.

The algorithm is the online greedy linking of Singh et al. (ICCV 2017,
"Online real-time multiple spatiotemporal action localisation") with the
linking score of Gkioxari & Malik (CVPR 2015):

  link(b_t, b_t+1) = s_c(b_t) + s_c(b_t+1) + lambda * IoU(b_t, b_t+1)

For each class c separately, over the time steps in increasing order (the
frame indices given, so detections at every 4th frame link step to step):

1. Candidates of a step are its boxes with class score >= `min_score`, the
   `max_detections_per_frame` best.
2. Active tubes are visited by descending tube score (the mean of their
   frame scores; earlier-born first on ties). Each takes, among the
   candidates not yet taken whose IoU with the tube's last box is >=
   `min_link_iou`, the one of the highest linking score.
3. A tube that finds no candidate misses the step; after more than
   `max_missed_steps` consecutive misses it ends. Its boxes stay those of the
   steps it linked (a gap is not filled in).
4. Every candidate left untaken starts a new tube.

Finished tubes are optionally trimmed in time (leading and trailing frames
with score below `trim_score_threshold` are cut: a simple stand-in for the
Viterbi labelling of Singh et al.), tubes shorter than `min_tube_length`
frames are dropped, and the tube score is the mean of its frame scores.

Greedy online linking rather than Gkioxari & Malik's iterative Viterbi: it
handles tubes that start and end anywhere in the video (Viterbi paths span
it whole and need trimming to be usable), runs in one pass over the video,
and is the scheme later tubelet detectors (e.g. Kalogeiton et al.'s ACT,
ICCV 2017) adapt.
"""

import dataclasses
from typing import List, Mapping, Optional, Sequence, Tuple

import numpy as np

from acrn_tf.evaluation import average_precision


@dataclasses.dataclass
class Tube:
  """An action tube: one class, boxes on increasing frame indices.

  Attributes:
    label_id: the class (label-map id).
    frame_indices: int64 `[T]`, strictly increasing.
    boxes: float64 `[T, 4]` `[ymin, xmin, ymax, xmax]`, normalised.
    frame_scores: float64 `[T]`, the class score per frame (ones for ground
      truth when not given).
    score: the tube's score; the mean of `frame_scores` when not given.
  """
  label_id: int
  frame_indices: np.ndarray
  boxes: np.ndarray
  frame_scores: Optional[np.ndarray] = None
  score: Optional[float] = None

  def __post_init__(self):
    self.label_id = int(self.label_id)
    self.frame_indices = np.asarray(self.frame_indices,
                                    dtype=np.int64).reshape(-1)
    self.boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
    if self.frame_scores is None:
      self.frame_scores = np.ones(len(self.frame_indices))
    self.frame_scores = np.asarray(self.frame_scores,
                                   dtype=np.float64).reshape(-1)
    num_frames = len(self.frame_indices)
    if num_frames == 0:
      raise ValueError(f'tube of class {self.label_id}: no frames')
    if len(self.boxes) != num_frames or len(self.frame_scores) != num_frames:
      raise ValueError(
          f'tube of class {self.label_id}: {num_frames} frames, '
          f'{len(self.boxes)} boxes, {len(self.frame_scores)} frame scores')
    if np.any(np.diff(self.frame_indices) <= 0):
      raise ValueError(f'tube of class {self.label_id}: frame indices must '
                       f'increase, got {self.frame_indices.tolist()}')
    if self.score is None:
      self.score = float(np.mean(self.frame_scores))
    self.score = float(self.score)

  @property
  def start(self) -> int:
    return int(self.frame_indices[0])

  @property
  def end(self) -> int:
    """The last frame index (inclusive)."""
    return int(self.frame_indices[-1])


@dataclasses.dataclass(frozen=True)
class LinkingConfig:
  """Parameters of `link_tubes` (see the module docstring).

  Attributes:
    linking_lambda: weight of the IoU in the linking score.
    min_link_iou: least IoU between a tube's last box and a candidate.
    min_score: least class score of a candidate box.
    max_detections_per_frame: candidates per step and class (top scores).
    max_missed_steps: steps a tube may go without a link and continue.
    min_tube_length: tubes with fewer frames are dropped.
    trim_score_threshold: if set, leading/trailing frames scoring below it
      are cut from each tube.
  """
  linking_lambda: float = 1.0
  min_link_iou: float = 0.2
  min_score: float = 0.01
  max_detections_per_frame: int = 10
  max_missed_steps: int = 0
  min_tube_length: int = 1
  trim_score_threshold: Optional[float] = None

  def __post_init__(self):
    if self.max_detections_per_frame < 1:
      raise ValueError('max_detections_per_frame: expected >= 1, got '
                       f'{self.max_detections_per_frame}')
    if self.max_missed_steps < 0:
      raise ValueError('max_missed_steps: expected >= 0, got '
                       f'{self.max_missed_steps}')
    if self.min_tube_length < 1:
      raise ValueError(f'min_tube_length: expected >= 1, got '
                       f'{self.min_tube_length}')
    if not 0.0 <= self.min_link_iou <= 1.0:
      raise ValueError(f'min_link_iou: expected in [0, 1], got '
                       f'{self.min_link_iou}')


FrameDetections = Tuple[np.ndarray, np.ndarray]


class _Builder:
  """A tube being linked."""

  def __init__(self, birth: int, frame: int, box: np.ndarray, score: float):
    self.birth = birth
    self.frames = [frame]
    self.boxes = [box]
    self.scores = [score]
    self.missed = 0

  @property
  def mean_score(self) -> float:
    return float(np.mean(self.scores))

  def extend(self, frame, box, score):
    self.frames.append(frame)
    self.boxes.append(box)
    self.scores.append(score)
    self.missed = 0


def link_tubes(detections_by_frame: Mapping[int, FrameDetections],
               label_ids: Sequence[int],
               config: LinkingConfig = LinkingConfig()) -> List[Tube]:
  """Links one video's per-frame detections into tubes, per class.

  Args:
    detections_by_frame: frame index -> (boxes float `[n, 4]`
      `[ymin, xmin, ymax, xmax]` normalised, scores float `[n, num_classes]`
      one column per class). A frame with no boxes is a step where every
      tube misses.
    label_ids: the label id of each score column.
    config: the linking parameters.

  Returns:
    Tubes of every class, by descending score.

  Raises:
    ValueError: naming the frame with misshapen boxes or scores.
  """
  label_ids = [int(i) for i in label_ids]
  frames = sorted(int(f) for f in detections_by_frame)
  checked = {}
  for frame in frames:
    boxes, scores = detections_by_frame[frame]
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0 and len(boxes) == 0:
      scores = scores.reshape(0, len(label_ids))
    if scores.shape != (len(boxes), len(label_ids)):
      raise ValueError(f'frame {frame}: scores have shape {scores.shape}, '
                       f'expected [{len(boxes)}, {len(label_ids)}]')
    checked[frame] = (boxes, scores)
  tubes = []
  for column, label_id in enumerate(label_ids):
    for builder in _link_class(frames, checked, column, config):
      tube = _finish(builder, label_id, config)
      if tube is not None:
        tubes.append(tube)
  tubes.sort(key=lambda tube: -tube.score)
  return tubes


def _candidates(boxes, scores, config):
  keep = np.nonzero(scores >= config.min_score)[0]
  keep = keep[np.argsort(-scores[keep], kind='stable')]
  keep = keep[:config.max_detections_per_frame]
  return boxes[keep], scores[keep]


def _link_class(frames, detections, column, config) -> List[_Builder]:
  """The tubes of one score column, as builders."""
  active: List[_Builder] = []
  finished: List[_Builder] = []
  births = 0
  for frame in frames:
    boxes, scores = _candidates(detections[frame][0],
                                detections[frame][1][:, column], config)
    taken = np.zeros(len(boxes), dtype=bool)
    for tube in sorted(active, key=lambda b: (-b.mean_score, b.birth)):
      if not len(boxes):
        tube.missed += 1
        continue
      overlaps = average_precision.iou(tube.boxes[-1][None], boxes)[0]
      linkable = ~taken & (overlaps >= config.min_link_iou)
      if not linkable.any():
        tube.missed += 1
        continue
      link_scores = (tube.scores[-1] + scores +
                     config.linking_lambda * overlaps)
      best = int(np.argmax(np.where(linkable, link_scores, -np.inf)))
      taken[best] = True
      tube.extend(frame, boxes[best], float(scores[best]))
    still_active = []
    for tube in active:
      if tube.missed > config.max_missed_steps:
        finished.append(tube)
      else:
        still_active.append(tube)
    active = still_active
    for j in np.nonzero(~taken)[0]:
      active.append(_Builder(births, frame, boxes[j], float(scores[j])))
      births += 1
  return finished + active


def _finish(builder: _Builder, label_id: int,
            config: LinkingConfig) -> Optional[Tube]:
  """The builder as a Tube, trimmed and length-filtered (None if dropped)."""
  scores = np.asarray(builder.scores)
  first, last = 0, len(scores)
  if config.trim_score_threshold is not None:
    above = np.nonzero(scores >= config.trim_score_threshold)[0]
    if not above.size:
      return None
    first, last = int(above[0]), int(above[-1]) + 1
  if last - first < config.min_tube_length:
    return None
  return Tube(label_id=label_id,
              frame_indices=np.asarray(builder.frames[first:last]),
              boxes=np.stack(builder.boxes[first:last]),
              frame_scores=scores[first:last])
