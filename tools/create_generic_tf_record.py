r"""Converts a user's own videos + csv annotations to keyframe TFRecords.

  python tools/create_generic_tf_record.py \
      --videos_dir workspace/data/mine/videos \
      --annotation_csv workspace/data/mine/annotations/train.csv \
      --label_map_path workspace/data/mine/annotations/label_map.pbtxt \
      [--time_unit seconds|frames] \
      --output_path workspace/records/mine/train --num_shards 10 \
      [--num_processes 2 --process_index 0] [--flow] [--shorter_side 256]

The csv has one row per actor box: `video_path, timestamp_or_frame, x1, y1,
x2, y2, labels, track_id`, video paths relative to --videos_dir, boxes
normalised with x before y, labels as label-map names or ids separated by
`;` or `|` (see acrn_tf/data/conversion/generic_csv.py). Writes
<output_path>-SSSSS-of-NNNNN.tfrecord and label_map.pbtxt beside them;
rerunning the same command skips completed shards. Prints a progress bar and
a summary.

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

from acrn_tf.data.conversion import conversion
from acrn_tf.data.conversion import conversion_report
from acrn_tf.data.conversion import generic_csv

_LABEL_MAP_PATH, _CLASS_SUBSET_LABEL_MAP = cflags.define_label_map_flags()
flags.adopt_module_key_flags(cflags)

_VIDEOS_DIR = flags.DEFINE_string(
    'videos_dir', None, 'Directory the csv\'s video paths are relative to.')
_ANNOTATION_CSV = flags.DEFINE_string(
    'annotation_csv', None, 'csv: video_path, timestamp_or_frame, x1, y1, '
    'x2, y2, labels, track_id.')
_TIME_UNIT = flags.DEFINE_enum(
    'time_unit', 'seconds', generic_csv.TIME_UNITS,
    'Unit of the csv\'s timestamp_or_frame column.')
_FRAME_DIR_FPS = flags.DEFINE_float(
    'frame_dir_fps', 30.0, 'Frame rate of video paths that are directories '
    'of frame images.')


def _options() -> conversion.ConversionOptions:
  return cflags.conversion_options(frame_dir_fps=_FRAME_DIR_FPS.value)


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
  result = generic_csv.read_annotations(
      _ANNOTATION_CSV.value, full_label_map, _TIME_UNIT.value,
      class_subset=class_subset)
  print(f'Read {result.num_rows} rows, {len(result.keyframes)} keyframes '
        f'from {_ANNOTATION_CSV.value}')
  for reason, count in sorted(result.dropped.items()):
    print(f'  left out: {reason}: {count}')
  return cflags.convert(result.keyframes, label_map, _options(),
                        videos_dir=_VIDEOS_DIR.value)


def main():
  cflags.run_main(run)


if __name__ == '__main__':
  main()
