"""Runs a detector over a video file: detections csv, tubes and a video.

`run_inference` reads the video once (`video_stream.VideoStream`), runs the
detector on the clip of every keyframe, renders every frame of the range as
soon as its keyframe's detections are known (`rendering.VideoRenderer`),
and at the end writes the AVA-format detections csv and the action tubes
linked from the keyframe detections (`outputs`). The keyframes can be
those of an AVA-format csv (`read_keyframe_timestamps`): the csv rows then
carry the csv's own timestamps, so the evaluator matches them with the
groundtruth exactly. Memory holds one clip
span of frames for the clips, at most one more for the rendering, and the
keyframes' detections (needed for the tubes).
"""

import dataclasses
import math
import os
import time
from typing import Callable, Dict, List, Optional, Sequence

from absl import logging
import numpy as np

from acrn_tf.core import standard_fields
from acrn_tf.data.conversion import ava
from acrn_tf.data.conversion import optical_flow
from acrn_tf.data.conversion import video_io
from acrn_tf.evaluation import tube_linking
from acrn_tf.inference import detectors
from acrn_tf.inference import outputs
from acrn_tf.inference import rendering
from acrn_tf.inference import video_stream

_det = standard_fields.DetectionResultFields


@dataclasses.dataclass(frozen=True)
class InferenceOptions:
  """What to run on and what to write.

  Attributes:
    output_dir: receives detections.csv, tubes.json and rendered.mp4.
    video_id: the id in the csv (default: the file's name without
      extension).
    keyframe_every: a keyframe every this many frames; or
    keyframes_per_second: keyframes per second; or
    keyframe_timestamps: the keyframes' times on the dataset's time line
      (e.g. `read_keyframe_timestamps` of a groundtruth csv), written to
      the csv as they are (at most one of the three; none means one
      keyframe per second, as AVA).
    timestamp_offset_seconds: the dataset time at which the video file
      starts (900 for AVA files cut at 15:00): keyframe_timestamps t are
      read t - offset seconds into the file.
    start_seconds, end_seconds, max_frames: the range to process (see
      `video_stream.StreamOptions`).
    min_score: the least score of a detection drawn in the video.
    render_shorter_side: rendered frames smaller than this are enlarged
      to it (0: the video's size).
    heatmap_frames_dir: if set, the rendered keyframes are saved there as
      PNGs.
    heatmap_panels: per-actor heat-map panels beside each rendered frame
      (`rendering.render_frame`); none for a model without heat maps.
    render_video: write rendered.mp4.
    max_rows_per_keyframe: csv rows kept per keyframe (top scores).
    linking: the tube linking parameters.
    flow_preset: the optical-flow preset for models with a flow stream.
  """
  output_dir: str
  video_id: Optional[str] = None
  keyframe_every: Optional[int] = None
  keyframes_per_second: Optional[float] = None
  keyframe_timestamps: Optional[Sequence[float]] = None
  timestamp_offset_seconds: float = 0.0
  start_seconds: Optional[float] = None
  end_seconds: Optional[float] = None
  max_frames: Optional[int] = None
  min_score: float = rendering.DEFAULT_MIN_SCORE
  render_shorter_side: int = 0
  heatmap_frames_dir: Optional[str] = None
  heatmap_panels: int = rendering.DEFAULT_HEATMAP_PANELS
  render_video: bool = True
  max_rows_per_keyframe: int = outputs.MAX_ROWS_PER_KEYFRAME
  linking: tube_linking.LinkingConfig = tube_linking.LinkingConfig()
  flow_preset: str = optical_flow.DEFAULT_PRESET


@dataclasses.dataclass(frozen=True)
class InferenceProgress:
  """Progress of a run, reported after every keyframe.

  Attributes:
    keyframes_done: keyframes detected so far.
    keyframes_total: keyframes planned (from the frame count the video
      reports).
    elapsed_seconds: wall time since the video was opened.
  """
  keyframes_done: int
  keyframes_total: int
  elapsed_seconds: float

  @property
  def seconds_left(self) -> Optional[float]:
    """Estimated wall time to finish (None before the first keyframe)."""
    if not self.keyframes_done:
      return None
    remaining = max(self.keyframes_total - self.keyframes_done, 0)
    return self.elapsed_seconds / self.keyframes_done * remaining


@dataclasses.dataclass(frozen=True)
class InferenceSummary:
  """What a run did and wrote.

  Attributes:
    video_path, video_id: the input and its csv id.
    fps: the video's frame rate.
    num_frames_reported: frames the video reports.
    frames_read: frames decoded.
    frames_rendered: frames written to the rendered video (0 without one).
    keyframes: keyframes detected.
    detections: detections over all keyframes (boxes, not csv rows).
    csv_rows: rows of the detections csv.
    tubes: action tubes linked.
    detections_csv_path, tubes_json_path: the files written.
    rendered_video_path: the video written (None if not asked).
    heatmap_frames_dir: where keyframe PNGs went (None if not asked).
    heatmap_frames: PNGs written.
    elapsed_seconds: wall time of the run.
  """
  video_path: str
  video_id: str
  fps: float
  num_frames_reported: int
  frames_read: int
  frames_rendered: int
  keyframes: int
  detections: int
  csv_rows: int
  tubes: int
  detections_csv_path: str
  tubes_json_path: str
  rendered_video_path: Optional[str]
  heatmap_frames_dir: Optional[str]
  heatmap_frames: int
  elapsed_seconds: float


ProgressFn = Callable[[InferenceProgress], None]


def default_video_id(video_path: str) -> str:
  """The file's name without its extension (a directory: its name)."""
  name = os.path.basename(os.path.normpath(video_path))
  return os.path.splitext(name)[0] if os.path.isfile(video_path) else name


def stream_options(detector: detectors.Detector,
                   options: InferenceOptions
                   ) -> video_stream.StreamOptions:
  """The detector's clip shape with the run's keyframes and range."""
  keyframe_every = options.keyframe_every
  keyframes_per_second = options.keyframes_per_second
  keyframe_seconds = None
  if options.keyframe_timestamps is not None:
    keyframe_seconds = tuple(float(t) - options.timestamp_offset_seconds
                             for t in options.keyframe_timestamps)
  elif keyframe_every is None and keyframes_per_second is None:
    keyframes_per_second = 1.0
  return video_stream.StreamOptions(
      frames_per_clip=detector.frames_per_clip,
      frame_stride=detector.frame_stride,
      keyframe_every=keyframe_every,
      keyframes_per_second=keyframes_per_second,
      keyframe_seconds=keyframe_seconds,
      start_seconds=options.start_seconds, end_seconds=options.end_seconds,
      max_frames=options.max_frames, clip_size=detector.image_size)


def read_keyframe_timestamps(csv_path: str, video_id: str) -> List[float]:
  """The keyframe times of one video in an AVA-format csv, ascending.

  Any csv whose rows start `video_id, timestamp` serves: a groundtruth csv
  (`video_id, timestamp, x1, y1, x2, y2, action_id[, person_id]`, also the
  2-column rows of annotated frames without action), an excluded-timestamps
  csv or a detections csv. A first row starting with `video_id` is a header.

  Args:
    csv_path: the csv.
    video_id: the video whose keyframes are wanted.

  Returns:
    The distinct timestamps of the video's rows, ascending.

  Raises:
    ValueError: the csv cannot be read, a row of the video has no number
      as its timestamp (file:line named), or no row names the video (the
      message lists some of the ids it holds).
  """
  timestamps, other_ids = set(), []
  for line, cells in ava.csv_rows(csv_path):
    if line == 1 and cells[0] == 'video_id':
      continue
    if cells[0] != video_id:
      if cells[0] not in other_ids and len(other_ids) < 5:
        other_ids.append(cells[0])
      continue
    if len(cells) < 2:
      raise ValueError(f'{csv_path}:{line}: expected `video_id, timestamp, '
                       f'...`, got {len(cells)} column')
    timestamp = ava.parse_number(csv_path, line, 'timestamp', cells[1],
                                 error=ValueError)
    if not (math.isfinite(timestamp) and timestamp >= 0):
      raise ValueError(f'{csv_path}:{line}: timestamp must be >= 0 seconds, '
                       f'got {cells[1]!r}')
    timestamps.add(timestamp)
  if not timestamps:
    found = (f'it names {", ".join(repr(i) for i in other_ids)}'
             f'{", ..." if len(other_ids) == 5 else ""}' if other_ids else
             'it holds no row')
    raise ValueError(f'{csv_path}: no row of video {video_id!r} ({found}); '
                     'the video id is the file name without extension unless '
                     'given')
  return sorted(timestamps)


def run_inference(detector: detectors.Detector, video_path: str,
                  options: InferenceOptions,
                  progress: Optional[ProgressFn] = None) -> InferenceSummary:
  """Detects actions in a video and writes the outputs (module docstring).

  Args:
    detector: a `detectors.Detector`.
    video_path: any file OpenCV reads (not a frame directory, which has no
      frame rate).
    options: the InferenceOptions.
    progress: called after every keyframe with an InferenceProgress.

  Returns:
    The InferenceSummary.

  Raises:
    video_io.VideoNotFoundError / VideoReadError: a missing or unreadable
      video.
    video_stream.VideoTooShortError: a video shorter than one clip.
    video_stream.EmptyRangeError: a range without keyframes.
    detectors.DetectorError: the model refused a clip.
  """
  started = time.time()
  video_id = options.video_id or default_video_id(video_path)
  if ',' in video_id or '\n' in video_id:
    raise ValueError(f'video_id {video_id!r} cannot hold "," or a newline '
                     '(it is a csv column)')
  stream_opts = stream_options(detector, options)
  csv_path = os.path.join(options.output_dir, outputs.DETECTIONS_CSV_NAME)
  tubes_path = os.path.join(options.output_dir, outputs.TUBES_JSON_NAME)
  video_out = (os.path.join(options.output_dir,
                            rendering.RENDERED_VIDEO_NAME)
               if options.render_video else None)
  label_ids = detector.label_ids
  rows = []
  detections_by_keyframe: Dict[int, Dict[str, np.ndarray]] = {}
  num_detections = 0
  if os.path.isdir(video_path):
    raise video_io.VideoReadError(f'{video_path}: a directory, expected a '
                                  'video file')
  with video_io.open_video(video_path) as reader:
    estimator = (optical_flow.FlowEstimator(options.flow_preset)
                 if detector.uses_flow else None)
    stream = video_stream.VideoStream(reader, stream_opts, estimator)
    total = len(stream.plan.keyframe_numbers)
    # The csv timestamp of each keyframe: the asked-for time if given.
    csv_timestamps = {}
    for timestamp in options.keyframe_timestamps or ():
      csv_timestamps.setdefault(video_io.frame_number_at(
          float(timestamp) - options.timestamp_offset_seconds,
          reader.info.fps), float(timestamp))
    os.makedirs(options.output_dir, exist_ok=True)
    logging.info('%s: %d frames at %g fps, %d keyframes in frames %d..%d, '
                 'clips of %d frames every %d video frames (%.2f s)',
                 video_path, reader.info.num_frames, reader.info.fps, total,
                 stream.plan.start_frame, stream.plan.stop_frame - 1,
                 stream_opts.frames_per_clip, stream_opts.frame_stride,
                 (stream_opts.frames_per_clip - 1) * stream_opts.frame_stride /
                 reader.info.fps)
    renderer = rendering.VideoRenderer(
        video_out, reader.info.fps, stream.plan.keyframe_numbers,
        detector.label_map, min_score=options.min_score,
        keyframes_dir=options.heatmap_frames_dir,
        keyframe_name_prefix=video_id,
        min_shorter_side=options.render_shorter_side,
        heatmap_panels=(options.heatmap_panels if detector.has_heatmaps
                        else 0))
    with renderer:
      for event in stream:
        if isinstance(event, video_stream.FrameEvent):
          renderer.add_frame(event.frame_number, event.frame)
          continue
        keyframe = event.clip.keyframe_frame_number
        detections = detector.detect(event.clip.frames, event.flow)
        # Heat maps are only drawn: the tubes need boxes and scores.
        detections_by_keyframe[keyframe] = {
            key: value for key, value in detections.items()
            if key != _det.relation_heatmaps}
        num_detections += len(detections[_det.detection_boxes])
        rows.extend(outputs.keyframe_csv_rows(
            video_id, csv_timestamps.get(
                keyframe, round(event.timestamp_seconds, 3)), detections,
            label_ids, options.max_rows_per_keyframe))
        renderer.add_detections(keyframe, detections)
        if progress is not None:
          progress(InferenceProgress(len(detections_by_keyframe), total,
                                     time.time() - started))
    fps = reader.info.fps
    num_frames_reported = reader.info.num_frames
  outputs.write_detections_csv(csv_path, rows)
  tubes = outputs.link_keyframe_tubes(detections_by_keyframe, label_ids,
                                      options.linking)
  outputs.write_tubes_json(
      tubes_path, outputs.tubes_to_records(tubes, detector.label_map, fps))
  summary = InferenceSummary(
      video_path=video_path, video_id=video_id, fps=fps,
      num_frames_reported=num_frames_reported,
      frames_read=stream.frames_read,
      frames_rendered=renderer.frames_written,
      keyframes=len(detections_by_keyframe), detections=num_detections,
      csv_rows=len(rows), tubes=len(tubes), detections_csv_path=csv_path,
      tubes_json_path=tubes_path,
      rendered_video_path=video_out if renderer.frames_written else None,
      heatmap_frames_dir=options.heatmap_frames_dir,
      heatmap_frames=renderer.keyframes_saved,
      elapsed_seconds=time.time() - started)
  logging.info('%s: %d keyframes, %d detections, %d tubes in %.1f s',
               video_path, summary.keyframes, summary.detections,
               summary.tubes, summary.elapsed_seconds)
  return summary
