"""The converter-independent description of one keyframe to convert.

Every dataset reader (AVA csv, JHMDB, generic csv, synthetic) turns its own
format into a list of `KeyframeAnnotation`; the shared conversion machinery
(`acrn_tf.data.conversion`) turns those into TFRecord shards. A reader never
writes records itself, so sharding, resuming, progress and validation behave
the same for every dataset.
"""

import dataclasses
from typing import Dict, List, Optional, Sequence, Tuple

Box = Tuple[float, float, float, float]


@dataclasses.dataclass(frozen=True)
class KeyframeAnnotation:
  """One keyframe of one video, with all its actors.

  Attributes:
    video_id: the dataset's id of the video (AVA video_id, JHMDB
      `class/video`).
    video_path: a video file any OpenCV backend reads, or a directory of
      frame images sorted by name (JHMDB's original distribution); a
      relative path is taken relative to the converter's `videos_dir`.
    keyframe_timestamp: seconds from the start of the video, on the
      dataset's own time line (the value written to the record and used by
      evaluation); None when only `keyframe_frame_number` is known, in which
      case the converter derives it from the frame number and the fps.
    keyframe_frame_number: 0-based frame index of the keyframe in the video
      file (or frame directory) when the dataset gives frames rather than
      times (JHMDB); None to derive it from the timestamp and the fps as
      `round((keyframe_timestamp - time_offset_seconds) * fps)`.
    boxes: the actors' boxes `[ymin, xmin, ymax, xmax]`, normalised to [0, 1].
    labels: for each box, its action label ids (label-map ids, >= 1).
    track_ids: for each box, its person/track id (-1 if unknown).
    source: where the annotation came from, `path:line` (or `path`), used in
      every error and skip message about it.
    fps: frames per second of the video when the reader knows it; None
      takes the container's rate for a video file and the converter's
      default (`ConversionOptions.frame_dir_fps`) for a frame directory.
    time_offset_seconds: the dataset time at which the video file starts:
      the keyframe is read `keyframe_timestamp - time_offset_seconds` seconds
      into the file (AVA timestamps count from the movie start, while cut
      files may start at 15:00, i.e. an offset of 900).
    label_sources: for each box, for each of its labels, the `path:line` of
      the row that gave it (AVA writes one row per box and action), so that
      a bad box or label is reported with its own rows; None when the
      reader has no rows (every box then cites `source`).
  """
  video_id: str
  video_path: str
  keyframe_timestamp: Optional[float]
  boxes: Sequence[Box]
  labels: Sequence[Sequence[int]]
  track_ids: Sequence[int]
  source: str
  keyframe_frame_number: Optional[int] = None
  fps: Optional[float] = None
  time_offset_seconds: float = 0.0
  label_sources: Optional[Sequence[Sequence[str]]] = None

  def __post_init__(self):
    if not (len(self.boxes) == len(self.labels) == len(self.track_ids)):
      raise ValueError(
          f'{self.source}: keyframe {self.video_id}@{self.keyframe_timestamp} '
          f'has {len(self.boxes)} boxes, {len(self.labels)} label lists and '
          f'{len(self.track_ids)} track ids; expected equal counts.')
    if self.keyframe_timestamp is None and self.keyframe_frame_number is None:
      raise ValueError(
          f'{self.source}: keyframe of {self.video_id} has neither a '
          'timestamp nor a frame number.')
    if self.label_sources is not None and (
        [len(s) for s in self.label_sources] !=
        [len(labels) for labels in self.labels]):
      raise ValueError(
          f'{self.source}: keyframe {self.video_id}@{self.keyframe_timestamp} '
          'needs one label source per label of every box.')

  def label_source(self, box_index: int, label_index: int) -> str:
    """The `path:line` of the row that gave a box its label."""
    if self.label_sources is None:
      return self.source
    return self.label_sources[box_index][label_index]

  def box_source(self, box_index: int) -> str:
    """The rows of one box: `path:12` or `path:12,13` (or `source`)."""
    if self.label_sources is None or not self.label_sources[box_index]:
      return self.source
    return join_sources(self.label_sources[box_index])

  @property
  def key(self) -> str:
    """A stable id of the keyframe, `video_id,timestamp` as AVA writes it.

    Keyframes known only by frame number give `video_id,#frame_number`.
    """
    if self.keyframe_timestamp is None:
      return f'{self.video_id},#{self.keyframe_frame_number}'
    return f'{self.video_id},{self.keyframe_timestamp:g}'


@dataclasses.dataclass(frozen=True)
class BoxRow:
  """One row of a per-box annotation table (AVA csv, generic csv).

  Rows of one keyframe share (video_id, video_path, keyframe_timestamp,
  keyframe_frame_number); rows of one box also share `box` and `track_id`
  (AVA writes one row per box and action).
  """
  video_id: str
  video_path: str
  keyframe_timestamp: Optional[float]
  keyframe_frame_number: Optional[int]
  box: Box
  label_ids: Tuple[int, ...]
  track_id: int
  source: str
  time_offset_seconds: float = 0.0


def join_sources(sources: Sequence[str]) -> str:
  """`a.csv:3`, `a.csv:3` -> `a.csv:3`; `a.csv:3`, `a.csv:4` -> `a.csv:3,4`.

  Sources of several files are joined with `, `; the order of first
  appearance is kept.
  """
  by_path = {}
  for source in sources:
    path, separator, line = source.rpartition(':')
    if not separator or not line.isdigit():
      path, line = source, None
    lines = by_path.setdefault(path, [])
    if line is not None and line not in lines:
      lines.append(line)
  return ', '.join(f'{path}:{",".join(lines)}' if lines else path
                   for path, lines in by_path.items())


def group_box_rows(rows: Sequence[BoxRow]) -> List[KeyframeAnnotation]:
  """Merges per-box rows into one KeyframeAnnotation per keyframe.

  Keyframes, their boxes and each box's labels keep the order of first
  appearance; a label given twice for a box is kept once (with its first
  row as its source). A keyframe's `source` is the source of its first row;
  `label_sources` names the row of every label.
  """
  keyframes = {}
  for row in rows:
    keyframe_key = (row.video_id, row.video_path, row.keyframe_timestamp,
                    row.keyframe_frame_number)
    _, boxes = keyframes.setdefault(keyframe_key, (row, {}))
    labels = boxes.setdefault((row.box, row.track_id), {})
    for label_id in row.label_ids:
      labels.setdefault(label_id, row.source)
  result = []
  for (first_row, boxes) in keyframes.values():
    result.append(KeyframeAnnotation(
        video_id=first_row.video_id,
        video_path=first_row.video_path,
        keyframe_timestamp=first_row.keyframe_timestamp,
        keyframe_frame_number=first_row.keyframe_frame_number,
        boxes=tuple(box for box, _ in boxes),
        labels=tuple(tuple(labels) for labels in boxes.values()),
        track_ids=tuple(track_id for _, track_id in boxes),
        source=first_row.source,
        time_offset_seconds=first_row.time_offset_seconds,
        label_sources=tuple(tuple(labels.values())
                            for labels in boxes.values())))
  return result


@dataclasses.dataclass
class ReadResult:
  """What a dataset reader returns.

  Attributes:
    keyframes: the keyframes to convert.
    num_rows: annotation rows read.
    dropped: {reason: count} of what the reader left out on purpose
      (excluded timestamps, labels outside a class subset, ...); keyframes
      the converter refuses are counted by the converter.
  """
  keyframes: List[KeyframeAnnotation]
  num_rows: int = 0
  dropped: Dict[str, int] = dataclasses.field(default_factory=dict)
