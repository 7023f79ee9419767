"""The flags, the conversion call and the exit status every converter shares.

Output and sharding (--output_path, --num_shards, --num_processes,
--process_index, --overwrite) and how clips are stored (--frames_per_clip,
--frame_stride, --shorter_side, --jpeg_quality, --flow, --flow_bound,
--flow_preset, --num_threads, --allow_clamped_frames), and the exit
status (--allow_skipped). A converter imports
this module, adopts its flags as its own (`flags.adopt_module_key_flags`,
so that --help lists them) and defines only the flags of its input format.
Converters that read a label map (AVA, generic csv) also call
`define_label_map_flags()` at import.

Exit status: 0 when every annotation row was written; 1 for an error or
when nothing was written; 2 when records were written but keyframes were
skipped (a missing video, a timestamp outside it, no valid box left, ...)
or bad rows were left out of their keyframes (a box outside [0, 1] or
empty, a label id outside the label map: only that row goes, with its own
line cited, and the keyframe keeps its other boxes). The summary lists
them; --allow_skipped makes status 2 a 0.

Sharding: --num_shards is the total number of output files. To convert with
several processes or machines, start --num_processes copies of the same
command, each with its own --process_index in [0, num_processes): process p
writes the shards s with s % num_processes == p.
"""

import sys
from typing import Callable, Sequence, Tuple

from absl import app
from absl import flags

from acrn_tf.core import progress_line
from acrn_tf.data import label_map_util
from acrn_tf.data.conversion import conversion
from acrn_tf.data.conversion import conversion_report
from acrn_tf.data.conversion import optical_flow

OUTPUT_PATH = flags.DEFINE_string(
    'output_path', None, 'Output prefix: shards are '
    '<output_path>-SSSSS-of-NNNNN.tfrecord.')
NUM_SHARDS = flags.DEFINE_integer('num_shards', 1,
                                  'Total number of output shards.')
NUM_PROCESSES = flags.DEFINE_integer(
    'num_processes', 1, 'Processes converting this dataset together.')
PROCESS_INDEX = flags.DEFINE_integer(
    'process_index', 0, 'This process, in [0, num_processes): it writes the '
    'shards s with s % num_processes == process_index.')
FRAMES_PER_CLIP = flags.DEFINE_integer(
    'frames_per_clip', 20, 'Frames stored per keyframe (keyframe at '
    'index frames_per_clip // 2).')
FRAME_STRIDE = flags.DEFINE_integer(
    'frame_stride', 1, 'Video frames between two stored frames (recorded as '
    'clip/frame_stride; the pipeline config\'s frame_stride, in video '
    'frames, must be a multiple of it).')
SHORTER_SIDE = flags.DEFINE_integer(
    'shorter_side', 0, 'Resize frames to this shorter side in pixels '
    '(0 keeps the frames\' size).')
JPEG_QUALITY = flags.DEFINE_integer('jpeg_quality', 90,
                                    'JPEG quality of the frames (1..100).')
FLOW = flags.DEFINE_boolean('flow', False, 'Also store optical flow.')
FLOW_BOUND = flags.DEFINE_float(
    'flow_bound', optical_flow.DEFAULT_FLOW_BOUND,
    'Flow is clipped to [-flow_bound, flow_bound] pixels before 8-bit '
    'quantisation.')
FLOW_PRESET = flags.DEFINE_enum(
    'flow_preset', optical_flow.DEFAULT_PRESET, optical_flow.PRESETS,
    'OpenCV DIS optical-flow preset.')
NUM_THREADS = flags.DEFINE_integer(
    'num_threads', 4, 'Threads reading and encoding clips.')
ALLOW_CLAMPED_FRAMES = flags.DEFINE_boolean(
    'allow_clamped_frames', True, 'Keep clips that run past a video end '
    '(their frames repeat the first/last frame); false skips them.')
OVERWRITE = flags.DEFINE_boolean(
    'overwrite', False, 'Rewrite shards that an earlier run completed.')
ALLOW_SKIPPED = flags.DEFINE_boolean(
    'allow_skipped', False, 'Exit 0 even when keyframes or bad rows were '
    'skipped (by default that exits with status '
    f'{conversion_report.EXIT_SKIPPED}, the records being written all the '
    'same).')


def define_label_map_flags() -> Tuple[flags.FlagHolder, flags.FlagHolder]:
  """Defines --label_map_path and --class_subset_label_map; call it once.

  Returns:
    Their holders, for `read_label_maps`.
  """
  label_map_path = flags.DEFINE_string(
      'label_map_path', None, 'Label map (item {} or AVA label {} form).')
  class_subset_label_map = flags.DEFINE_string(
      'class_subset_label_map', None, 'Optional label map of the classes to '
      'keep (e.g. the 60 evaluated AVA classes); other labels are left out, '
      'ids keep their values.')
  return label_map_path, class_subset_label_map


def read_label_maps(label_map_path: flags.FlagHolder,
                    class_subset_label_map: flags.FlagHolder):
  """(full label map, label map to write, class subset or None).

  Args:
    label_map_path: the holder of --label_map_path.
    class_subset_label_map: the holder of --class_subset_label_map.

  Returns:
    The full label map, the one to write (restricted to the class subset
    when given) and the subset the readers keep (None: every label).
  """
  full_label_map = label_map_util.read_label_map(label_map_path.value)
  if not class_subset_label_map.value:
    return full_label_map, full_label_map, None
  label_map = label_map_util.load_label_map(label_map_path.value,
                                            class_subset_label_map.value)
  return full_label_map, label_map, label_map


def conversion_options(**overrides) -> conversion.ConversionOptions:
  """`ConversionOptions` from the clip flags (and a converter's own fields).

  Args:
    **overrides: further `ConversionOptions` fields, e.g. frame_dir_fps.
  """
  return conversion.ConversionOptions(
      frames_per_clip=FRAMES_PER_CLIP.value,
      frame_stride=FRAME_STRIDE.value, shorter_side=SHORTER_SIDE.value,
      jpeg_quality=JPEG_QUALITY.value, flow=FLOW.value,
      flow_bound=FLOW_BOUND.value, flow_preset=FLOW_PRESET.value,
      allow_clamped_frames=ALLOW_CLAMPED_FRAMES.value,
      num_threads=NUM_THREADS.value, **overrides)


def convert(keyframes, label_map, options: conversion.ConversionOptions,
            **kwargs) -> conversion_report.ConversionSummary:
  """`conversion.convert` to the output and shards the flags name.

  Prints a progress line while it writes and the summary at the end.

  Args:
    keyframes: the reader's `annotations.KeyframeAnnotation`s.
    label_map: {id: name} written beside the shards.
    options: from `conversion_options`.
    **kwargs: further arguments of `conversion.convert` (e.g. videos_dir),
      or num_processes / process_index in place of the flags'.
  """
  arguments = dict(
      num_shards=NUM_SHARDS.value, num_processes=NUM_PROCESSES.value,
      process_index=PROCESS_INDEX.value, overwrite=OVERWRITE.value,
      progress_fn=progress_line.ProgressLine(
          conversion_report.format_progress, conversion_report.is_final))
  arguments.update(kwargs)
  summary = conversion.convert(keyframes, label_map, OUTPUT_PATH.value,
                               options, **arguments)
  print(conversion_report.format_summary(summary, label_map))
  return summary


def run_main(
    run: Callable[[Sequence[str]], conversion_report.ConversionSummary]
) -> None:
  """Runs a converter's run(argv) under absl and exits with its status.

  See `exit_status`; app.UsageError prints the usage.

  Args:
    run: the converter's run(argv), returning its summary.
  """
  app.run(lambda argv: exit_status(run, argv))


def exit_status(
    run: Callable[[Sequence[str]], conversion_report.ConversionSummary],
    argv: Sequence[str]) -> int:
  """The exit status of run(argv), its error printed.

  0: every keyframe and row was written; 1: a bad input or nothing written;
  `conversion_report.EXIT_SKIPPED` (2): records were written but keyframes
  or rows were skipped, unless --allow_skipped.
  """
  try:
    summary = run(argv)
  except app.UsageError:
    raise
  except ValueError as e:
    print(f'error: {e}', file=sys.stderr)
    return 1
  status, message = conversion_report.exit_status(summary,
                                                  ALLOW_SKIPPED.value)
  if message:
    print(f'error: {message}', file=sys.stderr)
  return status
