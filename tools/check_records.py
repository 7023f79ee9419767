r"""Checks keyframe TFRecords, read through the input pipeline, against a csv.

  A=workspace/data/synthetic_tiny/annotations
  python tools/check_records.py \
      --pipeline_config_path configs/synthetic/acrn_tiny.config \
      [--input_reader train|eval] \
      [--input_path 'workspace/records/synthetic_tiny/train-*.tfrecord'] \
      --annotation_csv $A/train.csv --label_map_path $A/label_map.pbtxt \
      [--excluded_timestamps_csv $A/excluded_timestamps.csv]

Reads every record once through the configured input pipeline (clip
sampling, resizing and box padding as training does them; no augmentation,
no shuffling) and compares each example's boxes (to --tolerance, in
normalised coordinates of the stored frame) and label lists with the AVA
csv, keyframes matched on (video_id, timestamp). Boxes the converters
leave out (outside [0, 1] or empty) and labels outside the label map are
counted, not expected in the records. Without
--pipeline_config_path, --input_path and --label_map_path are required and a
minimal reader is used. See acrn_tf/data/conversion/record_check.py.

Prints a summary (examples read, boxes checked, each mismatch with its
video_id and timestamp). Exits 0 when the records match the csv, 1 on any
mismatch (including csv keyframes missing from the records, excluded
timestamps left out) or when the check cannot run.
"""

import sys

if not __package__:  # python tools/NAME.py: put the checkout on sys.path.
  import _bootstrap  # pylint: disable=g-import-not-at-top,unused-import

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags

from acrn_tf.builders import config_util  # pylint: disable=g-import-not-at-top
from acrn_tf.builders import dataset_builder
from acrn_tf.data.conversion import record_check

_PIPELINE_CONFIG_PATH = flags.DEFINE_string(
    'pipeline_config_path', None, 'pipeline.config whose input reader (see '
    '--input_reader) reads the records.')
_INPUT_READER = flags.DEFINE_enum(
    'input_reader', 'train', ('train', 'eval'), 'Which reader of the config: '
    'train_input_reader or the first eval_input_reader.')
_INPUT_PATH = flags.DEFINE_list(
    'input_path', None, 'TFRecord paths or globs (comma-separated); replace '
    'the reader\'s input paths.')
_ANNOTATION_CSV = flags.DEFINE_string(
    'annotation_csv', None, 'AVA csv the records were converted from: '
    'video_id, timestamp, x1, y1, x2, y2, action_id[, person_id].')
_LABEL_MAP_PATH = flags.DEFINE_string(
    'label_map_path', None, 'Label map of the records (default: the '
    'reader\'s label_map_path); csv labels outside it are not compared.')
_EXCLUDED_TIMESTAMPS_CSV = flags.DEFINE_string(
    'excluded_timestamps_csv', None, 'Optional csv of video_id, timestamp '
    'keyframes the conversion left out.')
_TOLERANCE = flags.DEFINE_float(
    'tolerance', record_check.DEFAULT_TOLERANCE, 'Largest difference of a '
    'normalised box coordinate between csv and record.', lower_bound=0.0)
_MAX_LISTED = flags.DEFINE_integer(
    'max_listed', 50, 'Mismatches listed one by one (all are counted).',
    lower_bound=0)


def _reader_config():
  """The input reader from the config, or None without a config."""
  if not _PIPELINE_CONFIG_PATH.value:
    if not _INPUT_PATH.value:
      raise app.UsageError('give --pipeline_config_path or --input_path')
    if not _LABEL_MAP_PATH.value:
      raise app.UsageError('--label_map_path is required without '
                           '--pipeline_config_path')
    return None
  config = config_util.read_pipeline_config(_PIPELINE_CONFIG_PATH.value)
  if _INPUT_READER.value == 'train':
    if not config.HasField('train_input_reader'):
      raise ValueError(f'{_PIPELINE_CONFIG_PATH.value}: no '
                       'train_input_reader')
    return config.train_input_reader
  if not config.eval_input_reader:
    raise ValueError(f'{_PIPELINE_CONFIG_PATH.value}: no eval_input_reader')
  return config.eval_input_reader[0]


def run(argv) -> record_check.RecordCheckReport:
  """Checks per the parsed flags; prints and returns the report.

  Raises:
    app.UsageError: for missing or unexpected arguments.
    ValueError: for unreadable inputs (config, csv, label map, records).
  """
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if not _ANNOTATION_CSV.value:
    raise app.UsageError('--annotation_csv is required')
  reader = record_check.reader_config_for_check(
      _reader_config(), _INPUT_PATH.value or (), _LABEL_MAP_PATH.value)
  print(f'Checking {", ".join(reader.tf_record_input_reader.input_path)} '
        f'against {_ANNOTATION_CSV.value}')
  report = record_check.check_records(
      reader, _ANNOTATION_CSV.value,
      excluded_timestamps_csv=_EXCLUDED_TIMESTAMPS_CSV.value,
      tolerance=_TOLERANCE.value, build_dataset=dataset_builder.build)
  print(record_check.format_report(report, _MAX_LISTED.value))
  return report


def _main(argv):
  try:
    report = run(argv)
  except app.UsageError:
    raise
  except ValueError as e:
    print(f'error: {e}', file=sys.stderr)
    return 1
  return 0 if report.ok else 1


def main():
  app.run(_main)


if __name__ == '__main__':
  main()
