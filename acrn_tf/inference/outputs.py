"""What video inference writes: the detections csv and the action tubes.

  detections.csv  the AVA detections format (`evaluation.ava_csv`): rows
                  `video_id, timestamp, x1, y1, x2, y2, action_id, score`,
                  the top (box, class) pairs of each keyframe by their
                  class score (at most 50 per keyframe, as the official
                  evaluator reads);
  tubes.json      the keyframe detections linked over time per class
                  (`evaluation.tube_linking.link_tubes`), a list by
                  descending score of
                  `{label_id, label, score, frames: [{frame, time_seconds,
                  box, score}]}` with boxes normalised
                  `[ymin, xmin, ymax, xmax]`.

Both files are written atomically (a temporary name, then a rename).
"""

import json
from typing import Dict, List, Mapping, Sequence

import numpy as np

from acrn_tf.core import standard_fields
from acrn_tf.evaluation import ava_csv
from acrn_tf.evaluation import reporting
from acrn_tf.evaluation import tube_linking

_det = standard_fields.DetectionResultFields

DETECTIONS_CSV_NAME = 'detections.csv'
TUBES_JSON_NAME = 'tubes.json'
# The official AVA evaluator reads at most this many rows per keyframe.
MAX_ROWS_PER_KEYFRAME = 50


def _multiclass_scores(detections: Mapping[str, np.ndarray],
                       label_ids: Sequence[int]) -> np.ndarray:
  """`[n, C]` class scores; a one-hot of the top class if the model gives
  none."""
  if _det.detection_multiclass_scores in detections:
    return np.asarray(detections[_det.detection_multiclass_scores],
                      np.float64)
  classes = np.asarray(detections[_det.detection_classes]).reshape(-1)
  scores = np.asarray(detections[_det.detection_scores],
                      np.float64).reshape(-1)
  columns = {int(label_id): k for k, label_id in enumerate(label_ids)}
  multiclass = np.zeros((len(classes), len(label_ids)))
  for row, (label_id, score) in enumerate(zip(classes, scores)):
    if int(label_id) in columns:
      multiclass[row, columns[int(label_id)]] = score
  return multiclass


def keyframe_csv_rows(video_id: str, timestamp_seconds: float,
                      detections: Mapping[str, np.ndarray],
                      label_ids: Sequence[int],
                      max_rows: int = MAX_ROWS_PER_KEYFRAME) -> List[str]:
  """The csv lines of one keyframe's detections.

  Args:
    video_id: the video's id (no comma).
    timestamp_seconds: the keyframe's time in the video.
    detections: a `Detector.detect` dict (boxes `[n, 4]` normalised).
    label_ids: the label id of each multiclass score column.
    max_rows: keep the top-scoring (box, class) pairs only.

  Returns:
    Lines `video_id,timestamp,x1,y1,x2,y2,action_id,score` (no newline).
  """
  return ava_csv.multilabel_detection_rows(
      video_id, timestamp_seconds, detections[_det.detection_boxes],
      _multiclass_scores(detections, label_ids), label_ids,
      max_rows=max_rows)


def write_detections_csv(path: str, rows: Sequence[str]) -> int:
  """Writes the csv lines atomically; returns the number of rows."""
  return ava_csv.write_detections_csv(path, rows)


def link_keyframe_tubes(
    detections_by_keyframe: Mapping[int, Mapping[str, np.ndarray]],
    label_ids: Sequence[int],
    config: tube_linking.LinkingConfig = tube_linking.LinkingConfig()
) -> List[tube_linking.Tube]:
  """Links the keyframes' detections into tubes, per class.

  Args:
    detections_by_keyframe: keyframe frame number -> `Detector.detect` dict.
    label_ids: the label id of each multiclass score column.
    config: the linking parameters.

  Returns:
    Tubes of every class, by descending score; their frame indices are the
    keyframes' frame numbers.
  """
  by_frame = {
      int(frame): (np.asarray(d[_det.detection_boxes]).reshape(-1, 4),
                   _multiclass_scores(d, label_ids))
      for frame, d in detections_by_keyframe.items()}
  return tube_linking.link_tubes(by_frame, label_ids, config)


def tubes_to_records(tubes: Sequence[tube_linking.Tube],
                     label_map: Mapping[int, str],
                     fps: float) -> List[Dict]:
  """The tubes as JSON-ready dicts (module docstring), in the given order.

  Args:
    tubes: linked tubes.
    label_map: label id -> class name.
    fps: the video's frame rate (time_seconds = frame / fps).
  """
  records = []
  for tube in tubes:
    frames = [{'frame': int(frame),
               'time_seconds': float(frame) / fps,
               'box': [float(v) for v in box],
               'score': float(score)}
              for frame, box, score in zip(tube.frame_indices, tube.boxes,
                                           tube.frame_scores)]
    records.append({'label_id': int(tube.label_id),
                    'label': label_map.get(int(tube.label_id),
                                           str(tube.label_id)),
                    'score': float(tube.score),
                    'frames': frames})
  return records


def write_tubes_json(path: str, records: Sequence[Dict]) -> None:
  """Writes `tubes_to_records` output as indented JSON, atomically."""
  with reporting.atomic_output(path) as temporary:
    with open(temporary, 'w', encoding='utf-8') as f:
      json.dump(list(records), f, indent=1)
      f.write('\n')
