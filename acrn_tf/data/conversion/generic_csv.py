"""Reads a user's own annotations from a simple csv into KeyframeAnnotations.

One row per actor box (a first row starting with `video_path` is a header):

  video_path, timestamp_or_frame, x1, y1, x2, y2, labels[, track_id]

* video_path: the video file or frame directory, relative to the videos
  directory given to the converter (paths climbing out of it are refused);
  it is also the record's video id.
* timestamp_or_frame: seconds (`time_unit='seconds'`) or a 0-based frame
  index (`time_unit='frames'`) of the keyframe.
* x1, y1, x2, y2: the box, normalised to [0, 1], x before y.
* labels: one or more labels separated by `;` or `|`, each a label-map name
  or id (e.g. `walk;talk` or `3|7`). A name not in the label map is an
  error; an unknown id is refused by the converter with the keyframe.
* track_id: an integer person/track id (empty or absent: -1).

Rows of one (video_path, time) form one keyframe; rows with the same box and
track id are merged into one box with all their labels.
"""

import re
from typing import Collection, Mapping, Optional

from absl import logging

from acrn_tf.data import label_map_util
from acrn_tf.data.conversion import annotations
from acrn_tf.data.conversion import ava

COLUMNS = ('video_path', 'timestamp_or_frame', 'x1', 'y1', 'x2', 'y2',
           'labels', 'track_id')
TIME_UNITS = ('seconds', 'frames')
_LABEL_SEPARATOR = re.compile(r'[;|]')


class GenericCsvFormatError(ValueError):
  """A malformed row; the message names the file and line."""


def _parse_labels(path, line, field, name_to_id):
  tokens = [t.strip() for t in _LABEL_SEPARATOR.split(field)]
  if not any(tokens):
    raise GenericCsvFormatError(f'{path}:{line}: labels is empty; give one '
                                'or more label names or ids separated by '
                                '";" or "|"')
  ids = []
  for token in tokens:
    if not token:
      continue
    if re.fullmatch(r'[-+]?\d+', token):
      ids.append(int(token))
    elif name_to_id.get(token) is not None:
      ids.append(name_to_id[token])
    elif token in name_to_id:
      raise GenericCsvFormatError(f'{path}:{line}: label {token!r} names '
                                  'several ids in the label map; use the id')
    else:
      raise GenericCsvFormatError(f'{path}:{line}: label {token!r} is not a '
                                  'name in the label map (nor an id)')
  return tuple(ids)


def read_annotations(csv_path: str, label_map: Mapping[int, str],
                     time_unit: str = 'seconds',
                     class_subset: Optional[Collection[int]] = None
                     ) -> annotations.ReadResult:
  """Reads the csv (module docstring) into one KeyframeAnnotation per keyframe.

  Args:
    csv_path: the csv file.
    label_map: the full {id: name}, to resolve label names.
    time_unit: 'seconds' or 'frames', the unit of `timestamp_or_frame`.
    class_subset: optional ids to keep; other labels of the label map are
      dropped, then boxes left without labels, then keyframes without boxes
      (as `ava.read_annotations` does).

  Returns:
    ReadResult with keyframes in csv order (video paths relative: pass the
    videos directory to `conversion.convert`).

  Raises:
    GenericCsvFormatError: for an unreadable or empty csv or a malformed
      row (file:line named).
    ValueError: for an unknown time_unit.
  """
  if time_unit not in TIME_UNITS:
    raise ValueError(f'time_unit must be one of {TIME_UNITS}, got '
                     f'{time_unit!r}')
  name_to_id = label_map_util.names_to_ids(label_map)
  rows, keyframe_keys = [], set()
  num_rows = dropped_labels = 0
  try:
    cells_by_line = list(ava.csv_rows(csv_path))
  except ava.AvaFormatError as e:
    raise GenericCsvFormatError(str(e)) from e
  for line, cells in cells_by_line:
    if not num_rows and cells[0] == COLUMNS[0]:
      continue
    if len(cells) not in (7, 8):
      raise GenericCsvFormatError(
          f'{csv_path}:{line}: expected 8 columns `{", ".join(COLUMNS)}` '
          f'(or 7 without track_id), got {len(cells)}')
    if not cells[0]:
      raise GenericCsvFormatError(f'{csv_path}:{line}: empty video_path')
    if time_unit == 'seconds':
      timestamp = ava.parse_number(csv_path, line, COLUMNS[1], cells[1],
                                   error=GenericCsvFormatError)
      frame_number = None
    else:
      timestamp = None
      frame_number = ava.parse_number(csv_path, line, COLUMNS[1], cells[1],
                                      integer=True,
                                      error=GenericCsvFormatError)
    x1, y1, x2, y2 = [ava.parse_number(csv_path, line, column, value,
                                       error=GenericCsvFormatError)
                      for column, value in zip(COLUMNS[2:6], cells[2:6])]
    track_id = (ava.parse_number(csv_path, line, COLUMNS[7], cells[7],
                                 integer=True, error=GenericCsvFormatError)
                if len(cells) == 8 and cells[7] else -1)
    label_ids = _parse_labels(csv_path, line, cells[6], name_to_id)
    num_rows += 1
    keyframe_keys.add((cells[0], timestamp, frame_number))
    if class_subset is not None:
      kept = tuple(i for i in label_ids
                   if i in class_subset or i not in label_map)
      dropped_labels += len(label_ids) - len(kept)
      label_ids = kept
      if not label_ids:
        continue
    rows.append(annotations.BoxRow(
        video_id=cells[0], video_path=cells[0],
        keyframe_timestamp=timestamp, keyframe_frame_number=frame_number,
        box=(y1, x1, y2, x2), label_ids=label_ids, track_id=track_id,
        source=f'{csv_path}:{line}'))
  if not num_rows:
    raise GenericCsvFormatError(f'{csv_path}: the csv holds no annotation '
                                'rows')
  keyframes = annotations.group_box_rows(rows)
  dropped = {}
  if dropped_labels:
    dropped[ava.DROPPED_OUTSIDE_SUBSET] = dropped_labels
  if len(keyframe_keys) > len(keyframes):
    dropped[ava.DROPPED_EMPTY_AFTER_SUBSET] = (len(keyframe_keys) -
                                               len(keyframes))
  logging.info('%s: %d rows -> %d keyframes', csv_path, num_rows,
               len(keyframes))
  return annotations.ReadResult(keyframes=keyframes, num_rows=num_rows,
                                dropped=dropped)
