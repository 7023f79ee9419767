r"""Measures how fast the input pipeline delivers batches.

From a pipeline.config's train_input_reader (flags override its fields):

  python tools/benchmark_input.py \
      --pipeline_config_path configs/synthetic/acrn_tiny.config \
      [--batch_size 8] [--num_batches 50]

or from records alone:

  python tools/benchmark_input.py \
      --records 'workspace/records/synthetic_tiny/train-*.tfrecord' \
      --label_map_path workspace/data/synthetic_tiny/annotations/label_map.pbtxt \
      --frames_per_clip 8 --image_size 96x128 --batch_size 8 [--use_flow]

Builds the dataset with `acrn_tf.builders.dataset_builder`, pulls
--warmup_batches batches (pipeline start-up, autotuning), then times
--num_batches more and prints examples/s and batches/s.
"""

import sys
from typing import Optional, Sequence, Tuple

if not __package__:  # python tools/NAME.py: put the checkout on sys.path.
  import _bootstrap  # pylint: disable=g-import-not-at-top,unused-import

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags

from acrn_tf.builders import config_util  # pylint: disable=g-import-not-at-top
from acrn_tf.builders import dataset_builder
from acrn_tf.protos import input_reader_pb2
from benchmarks import input_throughput

_PIPELINE_CONFIG_PATH = flags.DEFINE_string(
    'pipeline_config_path', None,
    'A pipeline.config; its train_input_reader and train_config.batch_size '
    'are the defaults of the flags below.')
_RECORDS = flags.DEFINE_list(
    'records', None, 'TFRecord paths or globs (comma-separated); replace the '
    'config\'s input paths.')
_LABEL_MAP_PATH = flags.DEFINE_string(
    'label_map_path', None, 'The label map (default: the config\'s).')
_NUM_CLASSES = flags.DEFINE_integer(
    'num_classes', None, 'Without a label map: the label ids are '
    '1..num_classes.')
_FRAMES_PER_CLIP = flags.DEFINE_integer('frames_per_clip', None,
                                        'Frames per clip.')
_FRAME_STRIDE = flags.DEFINE_integer('frame_stride', None,
                                     'Stored frames between sampled frames.')
_IMAGE_SIZE = flags.DEFINE_string(
    'image_size', None, 'Frame size fed to the model: HEIGHTxWIDTH or one '
    'number for both.')
_USE_FLOW = flags.DEFINE_bool('use_flow', None, 'Read the optical flow too.')
_BATCH_SIZE = flags.DEFINE_integer(
    'batch_size', None, 'Batch size (default: the config\'s, else 8).')
_NUM_PARALLEL_CALLS = flags.DEFINE_integer(
    'num_parallel_calls', None, 'Parallel decode calls; 0 is AUTOTUNE.')
_NUM_READERS = flags.DEFINE_integer('num_readers', None,
                                    'Shards read at once.')
_NUM_BATCHES = flags.DEFINE_integer('num_batches', 50,
                                    'Batches timed after the warm-up.')
_WARMUP_BATCHES = flags.DEFINE_integer('warmup_batches', 5,
                                       'Batches pulled before timing.')
_EVAL = flags.DEFINE_bool(
    'eval', False, 'Build the pipeline as for evaluation (no augmentation, '
    'partial last batch).')

_DEFAULT_BATCH_SIZE = 8


def parse_image_size(text: str) -> Tuple[int, int]:
  """Parses 'HEIGHTxWIDTH' or 'SIZE' into (height, width)."""
  parts = text.lower().split('x')
  try:
    sizes = [int(p) for p in parts]
  except ValueError:
    sizes = []
  if len(sizes) == 1:
    sizes *= 2
  if len(sizes) != 2 or min(sizes) < 1:
    raise app.UsageError(f'--image_size: expected HEIGHTxWIDTH or SIZE '
                         f'(positive integers), got {text!r}')
  return sizes[0], sizes[1]


# The timing loop lives in the library, shared with `benchmark.py speed`.
measure_throughput = input_throughput.measure_throughput


def reader_config_from_flags() -> Tuple[input_reader_pb2.InputReader, int]:
  """The InputReader and batch size from the config and the flag overrides."""
  reader = input_reader_pb2.InputReader()
  batch_size = _DEFAULT_BATCH_SIZE
  if _PIPELINE_CONFIG_PATH.value:
    pipeline = config_util.read_pipeline_config(_PIPELINE_CONFIG_PATH.value)
    reader.CopyFrom(pipeline.train_input_reader)
    if pipeline.HasField('train_config'):
      batch_size = pipeline.train_config.batch_size
  if _RECORDS.value:
    del reader.tf_record_input_reader.input_path[:]
    reader.tf_record_input_reader.input_path.extend(_RECORDS.value)
  if not reader.tf_record_input_reader.input_path:
    raise app.UsageError('give --records or a --pipeline_config_path whose '
                         'train_input_reader has input paths')
  if _LABEL_MAP_PATH.value:
    reader.label_map_path = _LABEL_MAP_PATH.value
  for flag, field in ((_FRAMES_PER_CLIP, 'frames_per_clip'),
                      (_FRAME_STRIDE, 'frame_stride'),
                      (_USE_FLOW, 'use_flow'),
                      (_NUM_PARALLEL_CALLS, 'num_parallel_calls'),
                      (_NUM_READERS, 'num_readers')):
    if flag.value is not None:
      setattr(reader, field, flag.value)
  if _IMAGE_SIZE.value:
    reader.image_height, reader.image_width = parse_image_size(
        _IMAGE_SIZE.value)
  if _BATCH_SIZE.value is not None:
    batch_size = _BATCH_SIZE.value
  return reader, batch_size


def _label_ids(reader: input_reader_pb2.InputReader) -> Optional[
    Sequence[int]]:
  """Label ids from --num_classes when there is no label map, else None."""
  if _NUM_CLASSES.value is not None:
    if _NUM_CLASSES.value < 1:
      raise app.UsageError(f'--num_classes must be >= 1, got '
                           f'{_NUM_CLASSES.value}')
    return list(range(1, _NUM_CLASSES.value + 1))
  if not reader.label_map_path:
    raise app.UsageError('give --label_map_path (or --num_classes, for label '
                         'ids 1..num_classes)')
  return None


def run(argv):
  """Builds the pipeline from the parsed flags, times it; returns the stats."""
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if _NUM_BATCHES.value < 1:
    raise app.UsageError(f'--num_batches must be >= 1, got '
                         f'{_NUM_BATCHES.value}')
  if _WARMUP_BATCHES.value < 0:
    raise app.UsageError(f'--warmup_batches must be >= 0, got '
                         f'{_WARMUP_BATCHES.value}')
  reader, batch_size = reader_config_from_flags()
  if batch_size < 1:
    raise app.UsageError(f'--batch_size must be >= 1, got {batch_size}')
  try:
    dataset = dataset_builder.build(reader, batch_size,
                                    is_training=not _EVAL.value,
                                    label_ids=_label_ids(reader))
  except ValueError as e:
    raise app.UsageError(str(e)) from e
  print(f'Input pipeline: {list(reader.tf_record_input_reader.input_path)}, '
        f'batch {batch_size} x {reader.frames_per_clip} frames of '
        f'{reader.image_height}x{reader.image_width}'
        f'{" + flow" if reader.use_flow else ""}')
  stats = measure_throughput(dataset, _NUM_BATCHES.value,
                             _WARMUP_BATCHES.value)
  print(f'warm-up: {_WARMUP_BATCHES.value} batches in '
        f'{stats["warmup_seconds"]:.2f} s')
  print(f'timed: {stats["num_batches"]} batches, {stats["num_examples"]} '
        f'examples in {stats["seconds"]:.2f} s')
  print(f'examples/s: {stats["examples_per_second"]:.1f}')
  print(f'batches/s: {stats["batches_per_second"]:.2f}')
  return stats


def _main(argv):
  run(argv)


def main():
  app.run(_main)


if __name__ == '__main__':
  main()
