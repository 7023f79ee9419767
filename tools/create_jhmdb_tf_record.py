r"""Converts JHMDB (one split, train or test) to keyframe TFRecords.

The original distribution (frames, puppet masks and split files):

  python tools/create_jhmdb_tf_record.py \
      --jhmdb_root workspace/data/jhmdb \
      --split 1 --subset train --keyframe_stride 4 \
      --output_path workspace/records/jhmdb/split1_train --num_shards 10 \
      [--num_processes 2 --process_index 0 | --shard_index 3] [--flow]

The JHMDB-GT.pkl layout (boxes, lists of videos per split in one pickle):

  python tools/create_jhmdb_tf_record.py \
      --gt_pkl_path workspace/data/jhmdb/JHMDB-GT.pkl \
      --frames_root workspace/data/jhmdb/Frames \
      --split 1 --subset test \
      --output_path workspace/records/jhmdb/split1_test --num_shards 4

Every annotated frame of a video is a keyframe with one actor box and the
video's class; --keyframe_stride k keeps every k-th of them for training
(the test set always keeps all of them: frame-AP is measured on every
annotated frame). See acrn_tf/data/jhmdb.py for both layouts and
acrn_tf/data/conversion.py for sharding and resuming.

Writes <output_path>-SSSSS-of-NNNNN.tfrecord and the JHMDB label map
(label_map.pbtxt, ids 1..21 in alphabetical class order) beside them.
Rerunning the same command skips completed shards. Prints a progress bar
and a summary; exits 1 when nothing was written.

Sharding: --num_shards is the total number of output files. Several
processes or machines convert together with --num_processes and each its
own --process_index (process p writes the shards s with
s % num_processes == p); --shard_index i writes shard i alone.
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
from acrn_tf.data import conversion
from acrn_tf.data import conversion_report
from acrn_tf.data import jhmdb
from acrn_tf.data import optical_flow

_JHMDB_ROOT = flags.DEFINE_string(
    'jhmdb_root', None, 'Original layout: the folder holding Rename_Images/, '
    'puppet_mask/ and splits/.')
_GT_PKL_PATH = flags.DEFINE_string(
    'gt_pkl_path', None, 'JHMDB-GT.pkl layout: the pickle of boxes and '
    'split lists (use with --frames_root instead of --jhmdb_root).')
_FRAMES_ROOT = flags.DEFINE_string(
    'frames_root', None, 'JHMDB-GT.pkl layout: frames are '
    '<frames_root>/<class>/<video>/00001.<ext>.')
_SPLIT = flags.DEFINE_integer('split', 1, 'JHMDB split, 1..3.',
                              lower_bound=1, upper_bound=3)
_SUBSET = flags.DEFINE_enum('subset', 'train', ('train', 'test'),
                            'Which videos of the split to convert.')
_KEYFRAME_STRIDE = flags.DEFINE_integer(
    'keyframe_stride', 1, 'Training: keep every k-th annotated frame of a '
    'video as a keyframe (1 keeps all). Must be 1 with --subset=test.',
    lower_bound=1)
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
_SHARD_INDEX = flags.DEFINE_integer(
    'shard_index', None, 'Write this one shard, in [0, num_shards), alone '
    '(the same as --num_processes=num_shards --process_index=shard_index).')
_FRAMES_PER_CLIP = flags.DEFINE_integer(
    'frames_per_clip', 20, 'Frames stored per keyframe (keyframe at '
    'index frames_per_clip // 2).')
_FRAME_STRIDE = flags.DEFINE_integer(
    'frame_stride', 1, 'Video frames between two stored frames (recorded as '
    'clip/frame_stride; the pipeline config\'s frame_stride, in video '
    'frames, must be a multiple of it).')
_SHORTER_SIDE = flags.DEFINE_integer(
    'shorter_side', 0, 'Resize frames to this shorter side in pixels '
    '(0 keeps the frames\' size, 240 for JHMDB).')
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
      frame_dir_fps=jhmdb.JHMDB_FPS, num_threads=_NUM_THREADS.value)


def _processes():
  """(num_processes, process_index) from the sharding flags."""
  if _SHARD_INDEX.value is None:
    return _NUM_PROCESSES.value, _PROCESS_INDEX.value
  if _NUM_PROCESSES.value != 1 or _PROCESS_INDEX.value != 0:
    raise app.UsageError('--shard_index cannot be combined with '
                         '--num_processes / --process_index')
  if not 0 <= _SHARD_INDEX.value < _NUM_SHARDS.value:
    raise app.UsageError(f'--shard_index must be in [0, {_NUM_SHARDS.value})'
                         f', got {_SHARD_INDEX.value}')
  return _NUM_SHARDS.value, _SHARD_INDEX.value


def _read_keyframes():
  """(keyframes, label map, source description) per the layout flags."""
  if bool(_JHMDB_ROOT.value) == bool(_GT_PKL_PATH.value):
    raise app.UsageError('give exactly one of --jhmdb_root (original layout) '
                         'and --gt_pkl_path (JHMDB-GT.pkl layout)')
  if _SUBSET.value == 'test' and _KEYFRAME_STRIDE.value != 1:
    raise app.UsageError('--keyframe_stride thins the training set only; the '
                         'test set keeps every annotated frame (got '
                         f'--keyframe_stride={_KEYFRAME_STRIDE.value} with '
                         '--subset=test)')
  if _JHMDB_ROOT.value:
    if _FRAMES_ROOT.value:
      raise app.UsageError('--frames_root goes with --gt_pkl_path; the '
                           'original layout reads <jhmdb_root>/Rename_Images')
    keyframes = jhmdb.read_original(_JHMDB_ROOT.value, _SPLIT.value,
                                    _SUBSET.value, _KEYFRAME_STRIDE.value)
    return keyframes, jhmdb.label_map(), _JHMDB_ROOT.value
  if not _FRAMES_ROOT.value:
    raise app.UsageError('--frames_root is required with --gt_pkl_path')
  keyframes = jhmdb.read_gt_pkl(_GT_PKL_PATH.value, _FRAMES_ROOT.value,
                                _SPLIT.value, _SUBSET.value,
                                _KEYFRAME_STRIDE.value)
  return keyframes, jhmdb.gt_pkl_label_map(_GT_PKL_PATH.value), _GT_PKL_PATH.value


def run(argv) -> conversion_report.ConversionSummary:
  """Converts per the parsed flags; returns the summary.

  Raises:
    app.UsageError: for missing, conflicting or unexpected arguments.
    ValueError: for unreadable inputs (jhmdb.JhmdbFormatError names the
      file) or invalid options.
  """
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if not _OUTPUT_PATH.value:
    raise app.UsageError('--output_path is required')
  num_processes, process_index = _processes()
  keyframes, label_map, source = _read_keyframes()
  num_videos = len({k.video_id for k in keyframes})
  print(f'Read {len(keyframes)} keyframes of {num_videos} videos '
        f'(split {_SPLIT.value}, {_SUBSET.value}, keyframe stride '
        f'{_KEYFRAME_STRIDE.value}) from {source}')
  summary = conversion.convert(
      keyframes, label_map, _OUTPUT_PATH.value, _options(),
      num_shards=_NUM_SHARDS.value, num_processes=num_processes,
      process_index=process_index, progress_fn=progress_line.ProgressLine(
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
