"""Converts KeyframeAnnotations into sharded TFRecords: every converter's core.

A dataset reader (AVA csv, JHMDB, generic csv, ...) produces a list of
`annotations.KeyframeAnnotation`; `convert` does the rest the same way for
all of them: validation, sharding, resuming, threads, progress and the
summary, with the per-video clip encoding (frames, optical flow, records) in
`clip_encoding` and the progress and summary types in `conversion_report`.

  result = ava.read_annotations(csv_path, videos_dir)   # or any reader
  summary = conversion.convert(
      result.keyframes, label_map, 'records/train',
      conversion.ConversionOptions(frames_per_clip=20, flow=True),
      num_shards=10, videos_dir=videos_dir, progress_fn=print)

Output: `num_shards` files `<output_prefix>-SSSSS-of-NNNNN.tfrecord` (records
per `standard_fields.SequenceExampleKeys`) and `label_map.pbtxt` beside them.

Several processes (on one machine or many) convert one dataset together:
each is given the same inputs and options plus `num_processes` P and its own
`process_index` p in [0, P), and writes exactly the shards s with
`s % P == p`. With the defaults (1, 0) one process writes every shard.

Keyframes go to shards deterministically: sorted by video and time, then cut
into `num_shards` consecutive blocks of (nearly) equal size, each cut moved to
the nearest boundary between two videos if one lies within a quarter of a
shard, so most videos fall in one shard and are opened by one process. Inside
a process a thread pool reads and encodes chunks of up to 16 keyframes of one
video (each chunk opens its video once; OpenCV releases the GIL), and the
results are written in the sorted order whatever the number of threads.

Each shard is written under a hidden temporary name and renamed once
complete, after a small hidden summary `.<shard name>.json` that holds a
fingerprint of the shard's keyframes and options. A killed run therefore
never leaves a partial shard under its final name, and a rerun skips every
shard whose fingerprint matches, rewrites the others, and produces the same
bytes as an uninterrupted run.

Keyframes that cannot be converted are skipped with a reason (the REASON_*
constants), counted, and logged with their source (`file:line`). A bad box
(a coordinate outside [0, 1], an empty extent) or a label id outside the
label map leaves out only its own rows: the keyframe is written with its
other boxes, and the rows are counted and logged apart (`rows_skipped`)
with their own lines; a keyframe left without a box is skipped. An empty
input is an error.
"""

import bisect
import collections
import concurrent.futures
import dataclasses
import glob
import hashlib
import itertools
import json
import os
import time
from typing import Iterable, List, Mapping, Optional, Tuple

from absl import logging
import numpy as np
import tensorflow as tf

from acrn_tf.data import label_map_util
from acrn_tf.data.conversion import annotations
from acrn_tf.data.conversion import clip_encoding
from acrn_tf.data.conversion import conversion_report
from acrn_tf.data.conversion import sequence_example_writer as writer_lib

KeyframeAnnotation = annotations.KeyframeAnnotation
# How clips are read and stored; part of this module's API.
ConversionOptions = clip_encoding.ConversionOptions

REASON_MISSING_VIDEO = clip_encoding.REASON_MISSING_VIDEO
REASON_UNREADABLE_VIDEO = clip_encoding.REASON_UNREADABLE_VIDEO
REASON_UNREADABLE_FRAME = clip_encoding.REASON_UNREADABLE_FRAME
REASON_TIMESTAMP_OUTSIDE = clip_encoding.REASON_TIMESTAMP_OUTSIDE
REASON_CLAMPED_CLIP = clip_encoding.REASON_CLAMPED_CLIP
REASON_BOX_OUTSIDE = writer_lib.REASON_BOX_OUTSIDE
REASON_EMPTY_BOX = writer_lib.REASON_EMPTY_BOX
REASON_UNKNOWN_LABEL = writer_lib.REASON_UNKNOWN_LABEL
REASON_INVALID_CLIP = writer_lib.REASON_INVALID_CLIP
REASON_OUTSIDE_VIDEOS_DIR = 'video path outside the videos directory'

LABEL_MAP_FILE = 'label_map.pbtxt'
_KEYFRAMES_PER_TASK = 16
# 2: bad rows are left out of their keyframe instead of skipping it.
_FINGERPRINT_VERSION = 2


class ConversionError(ValueError):
  """The conversion as a whole cannot proceed (bad arguments or outputs)."""


def shard_path(output_prefix: str, shard_index: int, num_shards: int) -> str:
  """`<output_prefix>-SSSSS-of-NNNNN.tfrecord`."""
  return f'{output_prefix}-{shard_index:05d}-of-{num_shards:05d}.tfrecord'


def process_shard_indices(num_shards: int, num_processes: int = 1,
                          process_index: int = 0) -> List[int]:
  """The shards process `process_index` of `num_processes` writes.

  Raises:
    ConversionError: for counts below 1, an index outside [0, num_processes),
      or a process that would get no shard.
  """
  if num_shards < 1:
    raise ConversionError(f'num_shards must be >= 1, got {num_shards}')
  if num_processes < 1:
    raise ConversionError(f'num_processes must be >= 1, got {num_processes}')
  if not 0 <= process_index < num_processes:
    raise ConversionError(f'process_index must be in [0, {num_processes}), '
                          f'got {process_index}')
  indices = list(range(process_index, num_shards, num_processes))
  if not indices:
    raise ConversionError(
        f'process {process_index} of {num_processes} gets no shard of '
        f'{num_shards}: use at most {num_shards} processes')
  return indices


def _sort_key(keyframe: KeyframeAnnotation):
  by_frame = keyframe.keyframe_frame_number is not None
  seconds = (0.0 if keyframe.keyframe_timestamp is None else
             keyframe.keyframe_timestamp - keyframe.time_offset_seconds)
  return (keyframe.video_id, keyframe.video_path, not by_frame,
          keyframe.keyframe_frame_number if by_frame else 0, seconds,
          keyframe.source)


def assign_shards(keyframes: Iterable[KeyframeAnnotation],
                  num_shards: int) -> List[List[KeyframeAnnotation]]:
  """Splits keyframes into `num_shards` ordered lists (module docstring).

  Args:
    keyframes: the annotations, in any order.
    num_shards: number of shards (>= 1).

  Returns:
    num_shards lists; their concatenation is the keyframes sorted by video
    id, video path and time. A shard is empty only when there are fewer
    keyframes than shards.
  """
  ordered = sorted(keyframes, key=_sort_key)
  total = len(ordered)
  video_starts = [i for i in range(1, total)
                  if (ordered[i].video_id, ordered[i].video_path) !=
                  (ordered[i - 1].video_id, ordered[i - 1].video_path)]
  tolerance = total / num_shards / 4.0
  bounds = [0]
  for shard in range(1, num_shards):
    ideal = shard * total / num_shards
    first = bisect.bisect_left(video_starts, ideal - tolerance)
    last = bisect.bisect_right(video_starts, ideal + tolerance)
    candidates = [b for b in video_starts[first:last] if b > bounds[-1]]
    if candidates:
      bound = min(candidates, key=lambda b: (abs(b - ideal), b))
    else:
      bound = int(np.floor(ideal + 0.5))
    bounds.append(min(max(bound, bounds[-1]), total))
  bounds.append(total)
  return [ordered[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _is_inside(path: str, directory: str) -> bool:
  path, directory = os.path.abspath(path), os.path.abspath(directory)
  return os.path.commonpath([path, directory]) == directory


def _resolve_video_path(keyframe: KeyframeAnnotation,
                        videos_dir: Optional[str]) -> Tuple[str, str]:
  """Returns (path, error message or '') for the keyframe's video."""
  if not videos_dir:
    return keyframe.video_path, ''
  path = os.path.join(videos_dir, keyframe.video_path)
  if _is_inside(path, videos_dir):
    return path, ''
  return path, (f'{keyframe.source}: video {keyframe.video_path!r} resolves '
                f'to {os.path.abspath(path)!r}, outside the videos directory '
                f'{os.path.abspath(videos_dir)!r}')


@dataclasses.dataclass(frozen=True)
class _Task:
  """Keyframes of one video, encoded together by one worker thread."""
  video_path: str
  fps: Optional[float]
  keyframes: Tuple[KeyframeAnnotation, ...]


def _ordered_map(pool, function, items, max_pending):
  """pool.map with at most `max_pending` items in flight, results in order."""
  items = iter(items)
  pending = collections.deque(
      pool.submit(function, item) for item in itertools.islice(
          items, max_pending))
  while pending:
    result = pending.popleft().result()
    for item in itertools.islice(items, 1):
      pending.append(pool.submit(function, item))
    yield result


def _fingerprint(keyframes, resolved_paths, options, label_ids) -> str:
  """A hash of everything that determines a shard's bytes."""
  content = {
      'version': _FINGERPRINT_VERSION,
      'options': options.content_fields(),
      'label_ids': list(label_ids),
      # `source` and `label_sources` (file:line) do not reach the records.
      'keyframes': [dict(dataclasses.asdict(k), source=None,
                         label_sources=None)
                    for k in keyframes],
      # A video that appears later makes the shard's content change.
      'videos_present': [os.path.exists(p) for p in resolved_paths],
  }
  text = json.dumps(content, sort_keys=True, default=str)
  return hashlib.sha256(text.encode('utf-8')).hexdigest()


def _hidden_path(path: str, suffix: str) -> str:
  directory, name = os.path.split(path)
  return os.path.join(directory, f'.{name}{suffix}')


def _write_stats(shard: str, stats: 'conversion_report.ShardStats') -> None:
  """Writes a shard's hidden summary atomically."""
  temporary = _hidden_path(shard, f'.json.tmp-{os.getpid()}')
  with open(temporary, 'w', encoding='utf-8') as f:
    f.write(stats.to_json())
  os.replace(temporary, _hidden_path(shard, '.json'))


def _read_stats(path: str) -> Optional[conversion_report.ShardStats]:
  """The hidden summary of a completed shard, or None if absent/unreadable."""
  try:
    with open(_hidden_path(path, '.json'), encoding='utf-8') as f:
      return conversion_report.ShardStats.from_json(f.read())
  except (OSError, ValueError, KeyError, TypeError):
    return None


def _write_label_map(output_prefix: str, label_map: Mapping[int, str]) -> str:
  path = os.path.join(os.path.dirname(output_prefix), LABEL_MAP_FILE)
  if os.path.exists(path):
    existing = label_map_util.read_label_map(path)
    if existing != dict(sorted(label_map.items())):
      raise ConversionError(
          f'{path}: the output directory already holds a different label '
          f'map ({len(existing)} classes, this conversion has '
          f'{len(label_map)}); use another output directory or delete it')
    return path
  label_map_util.write_label_map(path, label_map)
  return path


class _ShardPlan:
  """One shard to write: its keyframes, checks done up front, and tasks."""

  def __init__(self, path, keyframes, options, label_ids, videos_dir):
    self.path = path
    self.keyframes = keyframes
    self.stats = conversion_report.ShardStats()
    self.tasks = []
    self.skips = []  # (keyframe, reason, message) found before decoding
    self.row_skips = []  # writer_lib.InvalidRows of keyframes kept
    resolved = []
    for keyframe in keyframes:
      video_path, error = _resolve_video_path(keyframe, videos_dir)
      resolved.append(video_path)
      if error:
        self.skips.append((keyframe, REASON_OUTSIDE_VIDEOS_DIR, error))
        continue
      valid, bad_rows = writer_lib.drop_invalid_rows(keyframe, label_ids)
      if valid is None:
        more = len(bad_rows) - 1
        self.skips.append((keyframe, bad_rows[0].reason,
                           bad_rows[0].message +
                           (f' (and {more} more bad rows: no valid box is '
                            'left)' if more else '')))
        continue
      self.row_skips.extend(bad_rows)
      keyframe = valid
      if not os.path.exists(video_path):
        self.skips.append((keyframe, REASON_MISSING_VIDEO,
                           f'{keyframe.source}: {video_path}: no such video '
                           'file or frame directory'))
        continue
      last = self.tasks[-1] if self.tasks else None
      if (last is not None and last.video_path == video_path and
          last.fps == keyframe.fps and
          len(last.keyframes) < _KEYFRAMES_PER_TASK):
        self.tasks[-1] = dataclasses.replace(
            last, keyframes=last.keyframes + (keyframe,))
      else:
        self.tasks.append(_Task(video_path, keyframe.fps, (keyframe,)))
    self.stats.fingerprint = _fingerprint(keyframes, resolved, options,
                                          label_ids)


def convert(keyframes: List[KeyframeAnnotation],
            label_map: Mapping[int, str],
            output_prefix: str,
            options: ConversionOptions = ConversionOptions(),
            num_shards: int = 1,
            num_processes: int = 1,
            process_index: int = 0,
            videos_dir: Optional[str] = None,
            progress_fn: Optional[conversion_report.ProgressFn] = None,
            overwrite: bool = False) -> conversion_report.ConversionSummary:
  """Converts keyframes to TFRecord shards (see the module docstring).

  Args:
    keyframes: every keyframe of the dataset (all processes get the same
      list; each writes its own shards).
    label_map: {id: name}; labels outside it are refused.
    output_prefix: shards are `<output_prefix>-SSSSS-of-NNNNN.tfrecord`; the
      directory is created and gets `label_map.pbtxt`.
    options: clip length, stride, size, JPEG quality, flow, threads.
    num_shards: total number of shards of the dataset.
    num_processes: processes converting the dataset together.
    process_index: this process's index in [0, num_processes).
    videos_dir: if given, relative video paths are taken relative to it and
      a video resolving outside it (`../`, absolute paths) is refused.
    progress_fn: called with a ConversionProgress after each keyframe.
    overwrite: rewrite shards even when an earlier run completed them.

  Returns:
    The ConversionSummary of this process's shards.

  Raises:
    ConversionError: for invalid options or sharding arguments, an empty
      `keyframes` or label map, or a conflicting label map in the output
      directory.
  """
  start = time.time()
  try:
    options.validate()
  except ValueError as e:
    raise ConversionError(str(e)) from e
  if not keyframes:
    raise ConversionError('no keyframes to convert: the annotations are '
                          'empty')
  if not label_map:
    raise ConversionError('the label map is empty')
  indices = process_shard_indices(num_shards, num_processes, process_index)
  label_ids = tuple(sorted(label_map))
  output_dir = os.path.dirname(output_prefix)
  if output_dir:
    os.makedirs(output_dir, exist_ok=True)
  summary = conversion_report.ConversionSummary(
      label_map_path=_write_label_map(output_prefix, label_map))
  shards = assign_shards(keyframes, num_shards)
  plans = []
  for index in indices:
    plan = _ShardPlan(shard_path(output_prefix, index, num_shards),
                      shards[index], options, label_ids, videos_dir)
    summary.shard_paths.append(plan.path)
    summary.num_keyframes += len(plan.keyframes)
    stats = None if overwrite else _read_stats(plan.path)
    if (stats is not None and stats.fingerprint == plan.stats.fingerprint and
        os.path.exists(plan.path)):
      logging.info('%s is complete (same keyframes and options): skipped',
                   plan.path)
      summary.shards_already_complete.append(plan.path)
      summary.add(stats)
    else:
      plans.append(plan)

  progress = _ProgressTracker(progress_fn, start, len(plans),
                              sum(len(p.keyframes) for p in plans))

  def encode(task):
    return clip_encoding.encode_video_keyframes(
        task.video_path, task.keyframes, options, label_ids, task.fps)

  tasks = [task for plan in plans for task in plan.tasks]
  pool = concurrent.futures.ThreadPoolExecutor(options.num_threads)
  try:
    results = _ordered_map(pool, encode, tasks, 2 * options.num_threads)
    for plan in plans:
      _write_shard(plan, results, progress)
      summary.add(plan.stats)
      summary.shards_written.append(plan.path)
  finally:
    pool.shutdown(wait=True, cancel_futures=True)
  summary.elapsed_seconds = time.time() - start
  logging.info('converted %d keyframes: %d examples, %d skipped, in %.1f s',
               summary.num_keyframes, summary.examples_written,
               summary.num_skipped, summary.elapsed_seconds)
  return summary


class _ProgressTracker:
  """Counts keyframes and reports ConversionProgress to the callback."""

  def __init__(self, progress_fn, start, shards_total, keyframes_total):
    self._fn, self._start = progress_fn, start
    self.shards_total, self.keyframes_total = shards_total, keyframes_total
    self.done = self.written = self.skipped = self.shards_done = 0
    self.report()

  def report(self):
    if self._fn is not None:
      self._fn(conversion_report.ConversionProgress(
          keyframes_done=self.done, keyframes_total=self.keyframes_total,
          examples_written=self.written, keyframes_skipped=self.skipped,
          shards_done=self.shards_done, shards_total=self.shards_total,
          elapsed_seconds=time.time() - self._start))


def _write_shard(plan: _ShardPlan, results, progress: _ProgressTracker):
  """Writes one shard from its tasks' results; renames it when complete."""
  # Temporaries of a killed run (`.<name>.tmp-<pid>`, `.<name>.json.tmp-`).
  for stale in glob.glob(glob.escape(_hidden_path(plan.path, '')) + '*tmp-*'):
    os.remove(stale)
  # An outdated shard goes first: its summary is replaced before the new
  # shard is renamed, and the pair must never describe different contents.
  for outdated in (plan.path, _hidden_path(plan.path, '.json')):
    if os.path.exists(outdated):
      os.remove(outdated)
  stats = plan.stats
  for rows in plan.row_skips:
    stats.skip_rows(rows.source, rows.reason, rows.message)
  for keyframe, reason, message in plan.skips:
    stats.skip(keyframe, reason, message)
    progress.done += 1
    progress.skipped += 1
  progress.report()
  temporary = _hidden_path(plan.path, f'.tmp-{os.getpid()}')
  try:
    with tf.io.TFRecordWriter(temporary) as writer:
      for _ in plan.tasks:
        for outcome in next(results):
          progress.done += 1
          if outcome.record is None:
            stats.skip(outcome.keyframe, outcome.reason, outcome.message)
            progress.skipped += 1
          else:
            writer.write(outcome.record)
            progress.written += 1
            stats.add_written(outcome.keyframe, outcome.clamped)
          progress.report()
    _write_stats(plan.path, stats)
    os.replace(temporary, plan.path)
  finally:
    if os.path.exists(temporary):
      os.remove(temporary)
  progress.shards_done += 1
  progress.report()
  logging.info('wrote %s: %d examples, %d keyframes skipped', plan.path,
               stats.examples, sum(stats.skipped.values()))
