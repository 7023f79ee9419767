"""Reads AVA v2.1 / v2.2 annotations into KeyframeAnnotations.

Inputs, as the AVA distribution ships them:
  * a videos directory holding `<video_id>.<ext>` (any extension OpenCV
    reads; the file is found by its stem, known video extensions first) or a
    frame directory `<video_id>/`;
  * the annotation csv, one row per (keyframe, box, action):
    `video_id, middle_frame_timestamp, x1, y1, x2, y2, action_id, person_id`
    with the box normalised and x before y (rows without `person_id` get
    track id -1; a first row starting with `video_id` is a header);
  * the label map (either form, see `label_map_util`);
  * optionally the excluded-timestamps csv (`video_id, timestamp` rows) and a
    class subset (e.g. the 60 evaluated classes).

Rows of one (video_id, timestamp) form one keyframe; rows with the same
coordinates and person_id form one box with a list of labels. Boxes become
`[ymin, xmin, ymax, xmax]` here, the only place the csv order matters.

Time: AVA's timestamps count seconds from the start of the movie. The real
AVA videos are often cut to 15:00-30:00 (keyframes 902..1798); for such
files give `timestamp_offset_seconds=900` so that second 902 is read 2 s into
the file. The records keep AVA's own timestamps (evaluation matches on
them). The default 0 suits files that start at 0 (full movies, the
synthetic dataset).
"""

import csv
import os
from typing import (Collection, Dict, Iterator, List, Mapping, Optional,
                    Set, Tuple)

from absl import logging

from acrn_tf.data.conversion import annotations

COLUMNS = ('video_id', 'middle_frame_timestamp', 'x1', 'y1', 'x2', 'y2',
           'action_id', 'person_id')
# Preferred when several files share a video id.
VIDEO_EXTENSIONS = ('.mp4', '.mkv', '.webm', '.avi', '.mov', '.m4v', '.mpg',
                    '.mpeg', '.flv', '.wmv')

DROPPED_EXCLUDED = 'keyframes in the excluded timestamps'
DROPPED_OUTSIDE_SUBSET = 'labels outside the class subset'
DROPPED_EMPTY_AFTER_SUBSET = 'keyframes without a label of the class subset'
DROPPED_NO_ACTION = ('keyframes annotated with no action (rows `video_id, '
                     'timestamp` alone)')


class AvaFormatError(ValueError):
  """A malformed AVA csv row; the message names the file and line."""


def csv_rows(path: str) -> Iterator[Tuple[int, List[str]]]:
  """Yields (line number, stripped cells) of a csv, skipping blank lines.

  Raises:
    AvaFormatError: if the file cannot be read.
  """
  try:
    with open(path, newline='', encoding='utf-8') as f:
      reader = csv.reader(f)
      for row in reader:
        cells = [cell.strip() for cell in row]
        if any(cells):
          yield reader.line_num, cells
  except (OSError, UnicodeDecodeError, csv.Error) as e:
    raise AvaFormatError(f'{path}: cannot read the csv: {e}') from e


def parse_number(path: str, line: int, column: str, value: str,
                 integer: bool = False, error=AvaFormatError):
  """Parses one csv cell; raises `error` naming file:line and column."""
  try:
    return int(value) if integer else float(value)
  except ValueError:
    kind = 'an integer' if integer else 'a number'
    raise error(f'{path}:{line}: {column} must be {kind}, got '
                f'{value!r}') from None


def read_excluded_timestamps(path: str) -> Set[Tuple[str, float]]:
  """Reads `video_id, timestamp` rows into a set of (video_id, seconds)."""
  excluded = set()
  for line, cells in csv_rows(path):
    if len(cells) != 2:
      raise AvaFormatError(f'{path}:{line}: expected 2 columns `video_id, '
                           f'timestamp`, got {len(cells)}')
    if line == 1 and cells[0] == 'video_id':
      continue
    excluded.add((cells[0], parse_number(path, line, 'timestamp',
                                         cells[1])))
  return excluded


class VideoFinder:
  """Finds `<video_id>.<ext>` (or `<video_id>/`) in a videos directory."""

  def __init__(self, videos_dir: str):
    if not os.path.isdir(videos_dir):
      raise AvaFormatError(f'{videos_dir}: the videos directory does not '
                           'exist')
    self._videos_dir = videos_dir
    self._listings = {}

  def _listing(self, subdir: str) -> Dict[str, str]:
    """{stem: name} of one directory, preferring known video extensions."""
    if subdir not in self._listings:
      directory = os.path.join(self._videos_dir, subdir)
      names = (sorted(n for n in os.listdir(directory)
                      if not n.startswith('.'))
               if os.path.isdir(directory) else [])
      by_stem = {}
      for name in names:
        stem, extension = os.path.splitext(name)
        if os.path.isdir(os.path.join(directory, name)):
          stem, extension = name, ''
        by_stem.setdefault(stem, []).append((extension, name))
      listing = {}
      for stem, found in by_stem.items():
        found.sort(key=lambda e: (e[0].lower() not in VIDEO_EXTENSIONS, e))
        if len(found) > 1:
          logging.warning('%s: several files for video %r (%s); using %s',
                          directory, stem, ', '.join(n for _, n in found),
                          found[0][1])
        listing[stem] = found[0][1]
      self._listings[subdir] = listing
    return self._listings[subdir]

  def relative_path(self, video_id: str) -> str:
    """The video's path relative to the videos directory.

    A video id that is absolute or climbs out with `..` is returned as it is
    (the converter refuses it); a video that is not found gets the id itself
    (the converter reports it missing).
    """
    parts = video_id.replace('\\', '/').split('/')
    if os.path.isabs(video_id) or '..' in parts:
      return video_id
    subdir, stem = os.path.split(video_id)
    name = self._listing(subdir).get(stem)
    return os.path.join(subdir, name) if name else video_id


def read_annotations(annotation_csv: str,
                     videos_dir: str,
                     label_map: Optional[Mapping[int, str]] = None,
                     excluded_timestamps_csv: Optional[str] = None,
                     class_subset: Optional[Collection[int]] = None,
                     timestamp_offset_seconds: float = 0.0
                     ) -> annotations.ReadResult:
  """Reads an AVA annotation csv into one KeyframeAnnotation per keyframe.

  Args:
    annotation_csv: the AVA csv (see the module docstring).
    videos_dir: the videos directory; keyframes get video paths relative to
      it (pass it to `conversion.convert` as `videos_dir`).
    label_map: the full {id: name}; needed with `class_subset` to tell a
      label outside the subset (dropped) from an unknown one (left for the
      converter to refuse).
    excluded_timestamps_csv: optional csv of keyframes to leave out.
    class_subset: optional ids to keep; other labels of the label map are
      dropped, then boxes left without labels, then keyframes without boxes.
    timestamp_offset_seconds: the movie time at which the video files start
      (see the module docstring).

  Returns:
    ReadResult with keyframes in csv order and the counts dropped.

  Raises:
    AvaFormatError: for a missing videos directory, an unreadable or empty
      csv, or a malformed row (file:line named).
  """
  finder = VideoFinder(videos_dir)
  excluded = (read_excluded_timestamps(excluded_timestamps_csv)
              if excluded_timestamps_csv else set())
  subset = set(class_subset) if class_subset is not None else None
  known = set(label_map or ())
  rows, num_rows = [], 0
  excluded_keyframes = set()
  dropped_labels = 0
  keyframes_with_rows = set()
  no_action_keyframes = set()
  for line, cells in csv_rows(annotation_csv):
    if len(cells) not in (2, 7, 8):
      raise AvaFormatError(
          f'{annotation_csv}:{line}: expected 8 columns '
          f'`{", ".join(COLUMNS)}` (or 7 without person_id, or 2 for a '
          f'keyframe with no action), got {len(cells)}')
    if num_rows == 0 and cells[0] == COLUMNS[0]:
      continue
    num_rows += 1
    if len(cells) == 2:
      # The current ActivityNet evaluator reads `video_id, timestamp` as a
      # keyframe annotated with no action; it holds no box to train on.
      if not cells[0]:
        raise AvaFormatError(f'{annotation_csv}:{line}: empty video_id')
      no_action_keyframes.add((cells[0], parse_number(
          annotation_csv, line, COLUMNS[1], cells[1])))
      continue
    video_id = cells[0]
    if not video_id:
      raise AvaFormatError(f'{annotation_csv}:{line}: empty video_id')
    values = [parse_number(annotation_csv, line, column, value)
              for column, value in zip(COLUMNS[1:6], cells[1:6])]
    timestamp, x1, y1, x2, y2 = values
    action_id = parse_number(annotation_csv, line, 'action_id', cells[6],
                             integer=True)
    person_id = (parse_number(annotation_csv, line, 'person_id', cells[7],
                              integer=True)
                 if len(cells) == 8 and cells[7] else -1)
    keyframe_key = (video_id, timestamp)
    if keyframe_key in excluded:
      excluded_keyframes.add(keyframe_key)
      continue
    keyframes_with_rows.add(keyframe_key)
    if subset is not None and action_id in known and action_id not in subset:
      dropped_labels += 1
      continue
    rows.append(annotations.BoxRow(
        video_id=video_id, video_path=finder.relative_path(video_id),
        keyframe_timestamp=timestamp, keyframe_frame_number=None,
        box=(y1, x1, y2, x2), label_ids=(action_id,), track_id=person_id,
        source=f'{annotation_csv}:{line}',
        time_offset_seconds=timestamp_offset_seconds))
  if not num_rows:
    raise AvaFormatError(f'{annotation_csv}: the csv holds no annotation '
                         'rows')
  keyframes = annotations.group_box_rows(rows)
  dropped = {}
  no_action_keyframes -= keyframes_with_rows
  if no_action_keyframes:
    dropped[DROPPED_NO_ACTION] = len(no_action_keyframes)
  if excluded_keyframes:
    dropped[DROPPED_EXCLUDED] = len(excluded_keyframes)
  if dropped_labels:
    dropped[DROPPED_OUTSIDE_SUBSET] = dropped_labels
  num_empty = len(keyframes_with_rows) - len(keyframes)
  if num_empty:
    dropped[DROPPED_EMPTY_AFTER_SUBSET] = num_empty
  logging.info('%s: %d rows -> %d keyframes (dropped: %s)', annotation_csv,
               num_rows, len(keyframes), dropped or 'none')
  return annotations.ReadResult(keyframes=keyframes, num_rows=num_rows,
                                dropped=dropped)
