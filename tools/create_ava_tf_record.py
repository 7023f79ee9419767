r"""Converts an AVA-format dataset (videos + csv) to keyframe TFRecords.

  A=workspace/data/ava/annotations
  python tools/create_ava_tf_record.py \
      --videos_dir workspace/data/ava/videos \
      --annotation_csv $A/ava_train_v2.2.csv \
      --label_map_path $A/ava_action_list_v2.2.pbtxt \
      --excluded_timestamps_csv $A/ava_train_excluded_timestamps_v2.2.csv \
      [--class_subset_label_map \
          $A/ava_action_list_v2.2_for_activitynet_2019.pbtxt] \
      [--timestamp_offset_seconds 900] \
      --output_path workspace/records/ava/train --num_shards 100 \
      [--num_processes 4 --process_index 0] [--flow] [--shorter_side 256]

Writes <output_path>-SSSSS-of-NNNNN.tfrecord and label_map.pbtxt beside them
(see acrn_tf/data/ava.py for the input format and acrn_tf/data/conversion.py
for sharding and resuming). Rerunning the same command skips completed
shards. Prints a progress bar and a summary; exits 1 when nothing was
written.

Sharding: --num_shards is the total number of output files. To convert with
several processes or machines, start --num_processes copies of the same
command, each with its own --process_index in [0, num_processes): process p
writes the shards s with s % num_processes == p.
"""

import os
import sys

try:
  import acrn_tf  # pylint: disable=unused-import
except ImportError:
  sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
      __file__))))

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags

from acrn_tf.core import progress_line  # pylint: disable=g-import-not-at-top
from acrn_tf.data import ava
from acrn_tf.data import conversion
from acrn_tf.data import conversion_report
from acrn_tf.data import label_map_util
from acrn_tf.data import optical_flow

_VIDEOS_DIR = flags.DEFINE_string(
    'videos_dir', None, 'Directory of <video_id>.<ext> files.')
_ANNOTATION_CSV = flags.DEFINE_string(
    'annotation_csv', None, 'AVA csv: video_id, middle_frame_timestamp, x1, '
    'y1, x2, y2, action_id, person_id.')
_LABEL_MAP_PATH = flags.DEFINE_string(
    'label_map_path', None, 'Label map (item {} or AVA label {} form).')
_EXCLUDED_TIMESTAMPS_CSV = flags.DEFINE_string(
    'excluded_timestamps_csv', None, 'Optional csv of video_id, timestamp '
    'keyframes to leave out.')
_CLASS_SUBSET_LABEL_MAP = flags.DEFINE_string(
    'class_subset_label_map', None, 'Optional label map of the classes to '
    'keep (e.g. the 60 evaluated AVA classes); ids keep their values.')
_TIMESTAMP_OFFSET_SECONDS = flags.DEFINE_float(
    'timestamp_offset_seconds', 0.0, 'Movie time at which the video files '
    'start (900 for files cut at 15:00; 0 for files starting at 0).')
_OUTPUT_PATH = flags.DEFINE_string(
    'output_path', None, 'Output prefix: shards are '
    '<output_path>-SSSSS-of-NNNNN.tfrecord.')
_NUM_SHARDS = flags.DEFINE_integer('num_shards', 1,
                                   'Total number of output shards.')
_NUM_PROCESSES = flags.DEFINE_integer(
    'num_processes', 1, 'Processes converting this dataset together.')
_PROCESS_INDEX = flags.DEFINE_integer(
    'process_index', 0, 'This process, in [0, num_processes): it writes the '
    'shards s with s % num_processes == process_index.')
_FRAMES_PER_CLIP = flags.DEFINE_integer(
    'frames_per_clip', 20, 'Frames stored per keyframe (keyframe at '
    'index frames_per_clip // 2).')
_FRAME_STRIDE = flags.DEFINE_integer(
    'frame_stride', 1, 'Video frames between two stored frames (recorded as '
    'clip/frame_stride; the pipeline config\'s frame_stride, in video '
    'frames, must be a multiple of it).')
_SHORTER_SIDE = flags.DEFINE_integer(
    'shorter_side', 0, 'Resize frames to this shorter side in pixels '
    '(0 keeps the video size).')
_JPEG_QUALITY = flags.DEFINE_integer('jpeg_quality', 90,
                                     'JPEG quality of the frames (1..100).')
_FLOW = flags.DEFINE_boolean('flow', False, 'Also store optical flow.')
_FLOW_BOUND = flags.DEFINE_float(
    'flow_bound', optical_flow.DEFAULT_FLOW_BOUND,
    'Flow is clipped to [-flow_bound, flow_bound] pixels before 8-bit '
    'quantisation.')
_FLOW_PRESET = flags.DEFINE_enum(
    'flow_preset', optical_flow.DEFAULT_PRESET, optical_flow.PRESETS,
    'OpenCV DIS optical-flow preset.')
_NUM_THREADS = flags.DEFINE_integer(
    'num_threads', 4, 'Threads reading and encoding clips.')
_ALLOW_CLAMPED_FRAMES = flags.DEFINE_boolean(
    'allow_clamped_frames', True, 'Keep clips that run past a video end '
    '(their frames repeat the first/last frame); false skips them.')
_OVERWRITE = flags.DEFINE_boolean(
    'overwrite', False, 'Rewrite shards that an earlier run completed.')


def _options() -> conversion.ConversionOptions:
  return conversion.ConversionOptions(
      frames_per_clip=_FRAMES_PER_CLIP.value,
      frame_stride=_FRAME_STRIDE.value, shorter_side=_SHORTER_SIDE.value,
      jpeg_quality=_JPEG_QUALITY.value, flow=_FLOW.value,
      flow_bound=_FLOW_BOUND.value, flow_preset=_FLOW_PRESET.value,
      allow_clamped_frames=_ALLOW_CLAMPED_FRAMES.value,
      num_threads=_NUM_THREADS.value)


def run(argv) -> conversion_report.ConversionSummary:
  """Converts per the parsed flags; returns the summary.

  Raises:
    app.UsageError: for missing or unexpected arguments.
    ValueError: for unreadable inputs or invalid options.
  """
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  for flag in (_VIDEOS_DIR, _ANNOTATION_CSV, _LABEL_MAP_PATH, _OUTPUT_PATH):
    if not flag.value:
      raise app.UsageError(f'--{flag.name} is required')
  full_label_map = label_map_util.read_label_map(_LABEL_MAP_PATH.value)
  label_map = full_label_map
  if _CLASS_SUBSET_LABEL_MAP.value:
    label_map = label_map_util.restrict_to_subset(
        full_label_map,
        label_map_util.read_label_map(_CLASS_SUBSET_LABEL_MAP.value),
        _CLASS_SUBSET_LABEL_MAP.value)
  result = ava.read_annotations(
      _ANNOTATION_CSV.value, _VIDEOS_DIR.value, label_map=full_label_map,
      excluded_timestamps_csv=_EXCLUDED_TIMESTAMPS_CSV.value,
      class_subset=(label_map if _CLASS_SUBSET_LABEL_MAP.value else None),
      timestamp_offset_seconds=_TIMESTAMP_OFFSET_SECONDS.value)
  print(f'Read {result.num_rows} rows, {len(result.keyframes)} keyframes '
        f'from {_ANNOTATION_CSV.value}')
  for reason, count in sorted(result.dropped.items()):
    print(f'  left out: {reason}: {count}')
  summary = conversion.convert(
      result.keyframes, label_map, _OUTPUT_PATH.value, _options(),
      num_shards=_NUM_SHARDS.value, num_processes=_NUM_PROCESSES.value,
      process_index=_PROCESS_INDEX.value, videos_dir=_VIDEOS_DIR.value,
      progress_fn=progress_line.ProgressLine(
          conversion_report.format_progress, conversion_report.is_final),
      overwrite=_OVERWRITE.value)
  print(conversion_report.format_summary(summary, label_map))
  return summary


def _main(argv):
  try:
    summary = run(argv)
  except app.UsageError:
    raise
  except ValueError as e:
    print(f'error: {e}', file=sys.stderr)
    return 1
  if not summary.examples_written:
    print('error: no example could be written', file=sys.stderr)
    return 1
  return 0


def main():
  app.run(_main)


if __name__ == '__main__':
  main()
