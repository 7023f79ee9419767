r"""Runs a trained action detector on a video file.

From an exported model (exporter_main's output directory, exported with
--input_type video_tensor or encoded_frames):

  python tools/infer_video.py --video clip.mp4 \
      --saved_model_dir workspace/exported/acrn_tiny \
      --output_dir workspace/inference/clip [--keyframes_per_second 1]

From a training checkpoint:

  python tools/infer_video.py --video clip.mp4 \
      --pipeline_config_path configs/synthetic/acrn_tiny.config \
      --checkpoint workspace/models/acrn_tiny \
      --output_dir workspace/inference/clip --keyframe_every 8

On the annotated keyframes of a groundtruth csv only (to score the
detections against it with tools/evaluate.py):

  python tools/infer_video.py --video workspace/data/mine/videos/v1.mp4 \
      --saved_model_dir workspace/exported/acrn_tiny \
      --output_dir workspace/inference/v1 \
      --keyframes_csv workspace/data/mine/annotations/val.csv

(workspace/ as WORKSPACE.md lays it out: models/<run>/ is a model_dir,
exported/<run>/ an exporter_main output directory.)

Writes to --output_dir:
  detections.csv  AVA-format rows `video_id, timestamp, x1, y1, x2, y2,
                  action_id, score` (the official evaluator reads them);
  tubes.json      the keyframe detections linked into action tubes;
  rendered.mp4    the video with each keyframe's boxes (numbered), classes
                  and scores drawn until the next keyframe, and beside it
                  (below a frame twice as wide as high) one panel per
                  actor with that actor's relation heat map and box
                  (--heatmap_panels).
--heatmap_frames_dir also saves the rendered keyframes as PNGs.

Keyframes: every --keyframe_every frames, --keyframes_per_second, or the
times --keyframes_csv gives for this video (one per second when none is
given); the model's clip (frames_per_clip frames, one every frame_stride
video frames, from its pipeline.config) is centred on each. A progress
line on stderr shows the keyframes done and the time left. Bad input (a
missing or unreadable video,
one shorter than a clip, a model directory without a serving signature)
prints one line and exits with status 1.
"""

import os
import sys

if not __package__:  # python tools/NAME.py: put the checkout on sys.path.
  import _bootstrap  # pylint: disable=g-import-not-at-top,unused-import

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags

from acrn_tf.core import progress_line  # pylint: disable=g-import-not-at-top
from acrn_tf.inference import detectors
from acrn_tf.inference import rendering
from acrn_tf.inference import video_inference

_VIDEO = flags.DEFINE_string('video', None, 'The video file (any format '
                             'OpenCV reads: mp4, avi, mkv, webm, ...).')
_SAVED_MODEL_DIR = flags.DEFINE_string(
    'saved_model_dir', None, 'An export directory (saved_model/, '
    'pipeline.config, label_map.pbtxt), as exporter_main writes it, e.g. '
    'workspace/exported/<run>.')
_PIPELINE_CONFIG_PATH = flags.DEFINE_string(
    'pipeline_config_path', None, 'With --checkpoint instead of '
    '--saved_model_dir: the pipeline.config the model was trained with.')
_CHECKPOINT = flags.DEFINE_string(
    'checkpoint', None, 'With --pipeline_config_path: a checkpoint prefix or '
    'a model_dir (its latest checkpoint), e.g. workspace/models/<run>.')
_OUTPUT_DIR = flags.DEFINE_string(
    'output_dir', None, 'Receives detections.csv, tubes.json and '
    'rendered.mp4.')
_KEYFRAME_EVERY = flags.DEFINE_integer(
    'keyframe_every', None, 'A keyframe every this many frames.',
    lower_bound=1)
_KEYFRAMES_PER_SECOND = flags.DEFINE_float(
    'keyframes_per_second', None, 'Keyframes per second of video (AVA: 1, '
    'the default when --keyframe_every is not given either). Each keyframe '
    'is the frame nearest its planned time and is stamped with that time: '
    'whole seconds at 1 per second, at any frame rate.')
_KEYFRAMES_CSV = flags.DEFINE_string(
    'keyframes_csv', None, 'Only the keyframes of this video (--video_id) '
    'in an AVA-format csv (rows `video_id, timestamp, ...`, e.g. the '
    'groundtruth): detections.csv then holds exactly the keyframes the '
    'evaluator scores, with the csv\'s timestamps.')
_TIMESTAMP_OFFSET_SECONDS = flags.DEFINE_float(
    'timestamp_offset_seconds', 0.0, 'With --keyframes_csv: the csv time at '
    'which the video file starts (900 for AVA files cut at 15:00).')
_START = flags.DEFINE_float('start', None, 'Start at this time (seconds).')
_END = flags.DEFINE_float('end', None, 'Stop after this time (seconds, '
                          'inclusive).')
_MAX_FRAMES = flags.DEFINE_integer(
    'max_frames', None, 'Process at most this many frames from the start.',
    lower_bound=1)
_MIN_SCORE = flags.DEFINE_float(
    'min_score', rendering.DEFAULT_MIN_SCORE, 'Draw detections scoring at '
    'least this in rendered.mp4 (the csv and tubes keep all).')
_RENDER_SHORTER_SIDE = flags.DEFINE_integer(
    'render_shorter_side', 360, 'Enlarge smaller frames to this shorter '
    'side in rendered.mp4 and the PNGs, so labels stay readable (0: the '
    'video\'s size).', lower_bound=0)
_HEATMAP_PANELS = flags.DEFINE_integer(
    'heatmap_panels', rendering.DEFAULT_HEATMAP_PANELS, 'Beside each '
    'rendered frame (below a frame twice as wide as high), one panel per '
    'actor (the best first) showing that actor\'s relation heat map and its '
    'box alone (0: the frame alone; models without heat maps never get '
    'panels).', lower_bound=0)
_HEATMAP_FRAMES_DIR = flags.DEFINE_string(
    'heatmap_frames_dir', None, 'Also save each rendered keyframe (boxes '
    'and relation heat maps) as a PNG here.')
_VIDEO_ID = flags.DEFINE_string(
    'video_id', None, 'The video id in detections.csv (default: the video '
    'file\'s name without extension).')


def format_progress(progress: video_inference.InferenceProgress) -> str:
  """`keyframes 12/300 (4%), 0:03 elapsed, 1:12 left`."""
  total = max(progress.keyframes_total, 1)
  line = (f'keyframes {progress.keyframes_done}/{progress.keyframes_total} '
          f'({100 * progress.keyframes_done // total}%), '
          f'{progress_line.format_seconds(progress.elapsed_seconds)} elapsed')
  left = progress.seconds_left
  if left is not None:
    line += f', {progress_line.format_seconds(left)} left'
  return line


def _detector() -> detectors.Detector:
  """The detector the model flags name (exactly one way)."""
  from_export = _SAVED_MODEL_DIR.value is not None
  from_checkpoint = (_PIPELINE_CONFIG_PATH.value is not None or
                     _CHECKPOINT.value is not None)
  if from_export == from_checkpoint:
    raise app.UsageError('give the model either as --saved_model_dir or as '
                         '--pipeline_config_path with --checkpoint')
  if from_export:
    return detectors.SavedModelDetector(_SAVED_MODEL_DIR.value)
  if not (_PIPELINE_CONFIG_PATH.value and _CHECKPOINT.value):
    raise app.UsageError('--pipeline_config_path and --checkpoint go '
                         'together')
  return detectors.CheckpointDetector(_PIPELINE_CONFIG_PATH.value,
                                      _CHECKPOINT.value)


def run(argv) -> video_inference.InferenceSummary:
  """Runs inference per the parsed flags; returns the summary.

  Raises:
    app.UsageError: for missing, conflicting or unexpected arguments.
    ValueError: for bad input (the message names the file and problem).
  """
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if not _VIDEO.value:
    raise app.UsageError('--video is required')
  if not _OUTPUT_DIR.value:
    raise app.UsageError('--output_dir is required')
  if sum(flag.value is not None for flag in (
      _KEYFRAME_EVERY, _KEYFRAMES_PER_SECOND, _KEYFRAMES_CSV)) > 1:
    raise app.UsageError('give at most one of --keyframe_every, '
                         '--keyframes_per_second and --keyframes_csv')
  if not os.path.exists(_VIDEO.value):
    # Checked before the model loads, which takes a while.
    raise ValueError(f'{_VIDEO.value}: no such video file')
  video_id = _VIDEO_ID.value or video_inference.default_video_id(
      _VIDEO.value)
  keyframe_timestamps = None
  if _KEYFRAMES_CSV.value:
    keyframe_timestamps = video_inference.read_keyframe_timestamps(
        _KEYFRAMES_CSV.value, video_id)
  detector = _detector()
  options = video_inference.InferenceOptions(
      output_dir=_OUTPUT_DIR.value, video_id=video_id,
      keyframe_every=_KEYFRAME_EVERY.value,
      keyframes_per_second=_KEYFRAMES_PER_SECOND.value,
      keyframe_timestamps=keyframe_timestamps,
      timestamp_offset_seconds=_TIMESTAMP_OFFSET_SECONDS.value,
      start_seconds=_START.value, end_seconds=_END.value,
      max_frames=_MAX_FRAMES.value, min_score=_MIN_SCORE.value,
      render_shorter_side=_RENDER_SHORTER_SIDE.value,
      heatmap_frames_dir=_HEATMAP_FRAMES_DIR.value,
      heatmap_panels=_HEATMAP_PANELS.value)
  progress = progress_line.ProgressLine(
      format_progress, lambda p: p.keyframes_done >= p.keyframes_total)
  summary = video_inference.run_inference(detector, _VIDEO.value, options,
                                          progress=progress)
  print(f'{summary.video_id}: {summary.keyframes} keyframes, '
        f'{summary.detections} detections, {summary.tubes} tubes in '
        f'{summary.elapsed_seconds:.1f} s')
  print(f'  {summary.detections_csv_path} ({summary.csv_rows} rows)')
  print(f'  {summary.tubes_json_path}')
  if summary.rendered_video_path:
    print(f'  {summary.rendered_video_path} ({summary.frames_rendered} '
          'frames)')
  if summary.heatmap_frames_dir:
    print(f'  {summary.heatmap_frames_dir} ({summary.heatmap_frames} '
          'keyframe PNGs)')
  return summary


def _main(argv):
  try:
    run(argv)
  except app.UsageError:
    raise
  except (ValueError, OSError) as e:
    message = ' '.join(str(e).split())
    print(f'error: {message}', file=sys.stderr)
    return 1
  return 0


def main():
  app.run(_main)


if __name__ == '__main__':
  main()
