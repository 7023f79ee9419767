"""The converter-independent description of one keyframe to convert.

Every dataset reader (AVA csv, JHMDB, generic csv, synthetic) turns its own
format into a list of `KeyframeAnnotation`; the shared conversion machinery
(`acrn_tf.data.conversion`) turns those into TFRecord shards. A reader never
writes records itself, so sharding, resuming, progress and validation behave
the same for every dataset.
"""

import dataclasses
from typing import Optional, Sequence, Tuple

Box = Tuple[float, float, float, float]


@dataclasses.dataclass(frozen=True)
class KeyframeAnnotation:
  """One keyframe of one video, with all its actors.

  Attributes:
    video_id: the dataset's id of the video (AVA video_id, JHMDB
      `class/video`).
    video_path: a video file any OpenCV backend reads, or a directory of
      frame images sorted by name (JHMDB's original distribution).
    keyframe_timestamp: seconds from the start of the video.
    keyframe_frame_number: 0-based frame index of the keyframe when the
      dataset gives frames rather than times (JHMDB); None to derive it from
      the timestamp and the video's fps.
    boxes: the actors' boxes `[ymin, xmin, ymax, xmax]`, normalised to [0, 1].
    labels: for each box, its action label ids (label-map ids, >= 1).
    track_ids: for each box, its person/track id (-1 if unknown).
    source: where the annotation came from, `path:line` (or `path`), used in
      every error and skip message about it.
  """
  video_id: str
  video_path: str
  keyframe_timestamp: float
  boxes: Sequence[Box]
  labels: Sequence[Sequence[int]]
  track_ids: Sequence[int]
  source: str
  keyframe_frame_number: Optional[int] = None

  def __post_init__(self):
    if not (len(self.boxes) == len(self.labels) == len(self.track_ids)):
      raise ValueError(
          f'{self.source}: keyframe {self.video_id}@{self.keyframe_timestamp} '
          f'has {len(self.boxes)} boxes, {len(self.labels)} label lists and '
          f'{len(self.track_ids)} track ids; expected equal counts.')

  @property
  def key(self) -> str:
    """A stable id of the keyframe, `video_id,timestamp` as AVA writes it."""
    return f'{self.video_id},{self.keyframe_timestamp:g}'
