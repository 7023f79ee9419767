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
(see acrn_tf/data/conversion/ava.py for the input format and
acrn_tf/data/conversion/conversion.py for sharding and resuming). Rerunning
the same command skips completed shards. Prints a progress bar and a
summary.

Exit status: 0 when every row was written, 2 when rows were skipped (the
summary lists them; --allow_skipped makes it 0), 1 for an error: see
tools/converter_flags.py.

Sharding (--num_shards, --num_processes, --process_index) and the clip
flags are those of every converter: see tools/converter_flags.py.
"""

from absl import app
from absl import flags

if __package__:  # tools.NAME in tests, acrn_tf_tools.NAME as a console script
  from . import converter_flags as cflags
else:  # python tools/NAME.py: put the checkout on sys.path first.
  import _bootstrap  # pylint: disable=g-import-not-at-top,unused-import
  import converter_flags as cflags  # pylint: disable=g-import-not-at-top

from acrn_tf.data.conversion import ava
from acrn_tf.data.conversion import conversion_report

_LABEL_MAP_PATH, _CLASS_SUBSET_LABEL_MAP = cflags.define_label_map_flags()
flags.adopt_module_key_flags(cflags)

_VIDEOS_DIR = flags.DEFINE_string(
    'videos_dir', None, 'Directory of <video_id>.<ext> files.')
_ANNOTATION_CSV = flags.DEFINE_string(
    'annotation_csv', None, 'AVA csv: video_id, middle_frame_timestamp, x1, '
    'y1, x2, y2, action_id, person_id.')
_EXCLUDED_TIMESTAMPS_CSV = flags.DEFINE_string(
    'excluded_timestamps_csv', None, 'Optional csv of video_id, timestamp '
    'keyframes to leave out.')
_TIMESTAMP_OFFSET_SECONDS = flags.DEFINE_float(
    'timestamp_offset_seconds', 0.0, 'Movie time at which the video files '
    'start (900 for files cut at 15:00; 0 for files starting at 0).')


def run(argv) -> conversion_report.ConversionSummary:
  """Converts per the parsed flags; returns the summary.

  Raises:
    app.UsageError: for missing or unexpected arguments.
    ValueError: for unreadable inputs or invalid options.
  """
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  for flag in (_VIDEOS_DIR, _ANNOTATION_CSV, _LABEL_MAP_PATH,
               cflags.OUTPUT_PATH):
    if not flag.value:
      raise app.UsageError(f'--{flag.name} is required')
  full_label_map, label_map, class_subset = cflags.read_label_maps(
      _LABEL_MAP_PATH, _CLASS_SUBSET_LABEL_MAP)
  result = ava.read_annotations(
      _ANNOTATION_CSV.value, _VIDEOS_DIR.value, label_map=full_label_map,
      excluded_timestamps_csv=_EXCLUDED_TIMESTAMPS_CSV.value,
      class_subset=class_subset,
      timestamp_offset_seconds=_TIMESTAMP_OFFSET_SECONDS.value)
  print(f'Read {result.num_rows} rows, {len(result.keyframes)} keyframes '
        f'from {_ANNOTATION_CSV.value}')
  for reason, count in sorted(result.dropped.items()):
    print(f'  left out: {reason}: {count}')
  return cflags.convert(result.keyframes, label_map,
                        cflags.conversion_options(),
                        videos_dir=_VIDEOS_DIR.value)


def main():
  cflags.run_main(run)


if __name__ == '__main__':
  main()
