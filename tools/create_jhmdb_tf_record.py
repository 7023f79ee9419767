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
annotated frame). See acrn_tf/data/conversion/jhmdb.py for both layouts and
acrn_tf/data/conversion/conversion.py for sharding and resuming.

The default --shorter_side 0 keeps the frames' size (240 for JHMDB's
frames). Writes <output_path>-SSSSS-of-NNNNN.tfrecord and the JHMDB label map
(label_map.pbtxt, ids 1..21 in alphabetical class order) beside them.
Rerunning the same command skips completed shards. Prints a progress bar
and a summary.

Exit status: 0 when every row was written, 2 when rows were skipped (the
summary lists them; --allow_skipped makes it 0), 1 for an error: see
tools/converter_flags.py.

Sharding: --num_shards is the total number of output files. Several
processes or machines convert together with --num_processes and each its
own --process_index (process p writes the shards s with
s % num_processes == p); --shard_index i writes shard i alone.
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
from acrn_tf.data.conversion import jhmdb

flags.adopt_module_key_flags(cflags)

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
_SHARD_INDEX = flags.DEFINE_integer(
    'shard_index', None, 'Write this one shard, in [0, num_shards), alone '
    '(the same as --num_processes=num_shards --process_index=shard_index).')


def _options() -> conversion.ConversionOptions:
  return cflags.conversion_options(frame_dir_fps=jhmdb.JHMDB_FPS)


def _processes():
  """(num_processes, process_index) from the sharding flags."""
  if _SHARD_INDEX.value is None:
    return cflags.NUM_PROCESSES.value, cflags.PROCESS_INDEX.value
  if cflags.NUM_PROCESSES.value != 1 or cflags.PROCESS_INDEX.value != 0:
    raise app.UsageError('--shard_index cannot be combined with '
                         '--num_processes / --process_index')
  if not 0 <= _SHARD_INDEX.value < cflags.NUM_SHARDS.value:
    raise app.UsageError('--shard_index must be in '
                         f'[0, {cflags.NUM_SHARDS.value}), got '
                         f'{_SHARD_INDEX.value}')
  return cflags.NUM_SHARDS.value, _SHARD_INDEX.value


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
  return (keyframes, jhmdb.gt_pkl_label_map(_GT_PKL_PATH.value),
          _GT_PKL_PATH.value)


def run(argv) -> conversion_report.ConversionSummary:
  """Converts per the parsed flags; returns the summary.

  Raises:
    app.UsageError: for missing, conflicting or unexpected arguments.
    ValueError: for unreadable inputs (jhmdb.JhmdbFormatError names the
      file) or invalid options.
  """
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if not cflags.OUTPUT_PATH.value:
    raise app.UsageError('--output_path is required')
  num_processes, process_index = _processes()
  keyframes, label_map, source = _read_keyframes()
  num_videos = len({k.video_id for k in keyframes})
  print(f'Read {len(keyframes)} keyframes of {num_videos} videos '
        f'(split {_SPLIT.value}, {_SUBSET.value}, keyframe stride '
        f'{_KEYFRAME_STRIDE.value}) from {source}')
  return cflags.convert(keyframes, label_map, _options(),
                        num_processes=num_processes,
                        process_index=process_index)


def main():
  cflags.run_main(run)


if __name__ == '__main__':
  main()
