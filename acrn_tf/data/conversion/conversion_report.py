"""What a conversion reports: progress, shard statistics and the summary.

`conversion.convert` fills these; `format_progress` and `format_summary`
turn them into the text the converter CLIs print (the library never
prints).
"""

import dataclasses
import json
from typing import Callable, Dict, List, Mapping, Optional, Tuple

from absl import logging

from acrn_tf.core import progress_line
from acrn_tf.data.conversion import annotations

# At most this many skipped keyframes of each reason are kept per shard
# (all are counted and logged).
SKIPPED_EXAMPLES_PER_REASON = 20


@dataclasses.dataclass(frozen=True)
class SkippedKeyframe:
  """A keyframe (or rows) not written: its source, reason and message."""
  source: str
  reason: str
  message: str


@dataclasses.dataclass(frozen=True)
class ConversionProgress:
  """Progress of `convert` over the keyframes of the shards it writes."""
  keyframes_done: int
  keyframes_total: int
  examples_written: int
  keyframes_skipped: int
  shards_done: int
  shards_total: int
  elapsed_seconds: float

  @property
  def keyframes_per_second(self) -> float:
    return self.keyframes_done / max(self.elapsed_seconds, 1e-9)

  @property
  def seconds_left(self) -> Optional[float]:
    """Estimated seconds to finish; None before the first keyframe."""
    if not self.keyframes_done:
      return None
    return ((self.keyframes_total - self.keyframes_done) /
            self.keyframes_per_second)


ProgressFn = Callable[[ConversionProgress], None]


@dataclasses.dataclass
class ConversionSummary:
  """What `convert` did, over all shards of this process.

  Counts include shards that an earlier run had completed (read from their
  hidden summaries).

  Attributes:
    shard_paths: this process's shards.
    shards_written: the shards written by this run.
    shards_already_complete: the shards an earlier run had completed.
    label_map_path: the label map written beside the shards.
    num_keyframes: keyframes assigned to this process's shards.
    examples_written: records in this process's shards.
    boxes_written: boxes in those records.
    labels_written: {label id: boxes carrying it}.
    keyframes_skipped: {reason: count}.
    skipped_keyframes: the first few skipped keyframes of each reason.
    rows_skipped: {reason: count} of the bad boxes and labels left out of
      keyframes that were written with their other boxes.
    skipped_rows: the first few of those of each reason.
    clips_with_clamped_frames: written clips that run past a video end.
    elapsed_seconds: wall time of this run.
  """
  shard_paths: List[str] = dataclasses.field(default_factory=list)
  shards_written: List[str] = dataclasses.field(default_factory=list)
  shards_already_complete: List[str] = dataclasses.field(default_factory=list)
  label_map_path: str = ''
  num_keyframes: int = 0
  examples_written: int = 0
  boxes_written: int = 0
  labels_written: Dict[int, int] = dataclasses.field(default_factory=dict)
  keyframes_skipped: Dict[str, int] = dataclasses.field(default_factory=dict)
  skipped_keyframes: List[SkippedKeyframe] = dataclasses.field(
      default_factory=list)
  rows_skipped: Dict[str, int] = dataclasses.field(default_factory=dict)
  skipped_rows: List[SkippedKeyframe] = dataclasses.field(
      default_factory=list)
  clips_with_clamped_frames: int = 0
  elapsed_seconds: float = 0.0

  @property
  def num_skipped(self) -> int:
    return sum(self.keyframes_skipped.values())

  @property
  def num_rows_skipped(self) -> int:
    return sum(self.rows_skipped.values())

  def add(self, stats: 'ShardStats') -> None:
    """Adds the counts of one shard."""
    self.examples_written += stats.examples
    self.boxes_written += stats.boxes
    self.clips_with_clamped_frames += stats.clamped_clips
    for label, count in stats.labels.items():
      self.labels_written[label] = self.labels_written.get(label, 0) + count
    for reason, count in stats.skipped.items():
      self.keyframes_skipped[reason] = (
          self.keyframes_skipped.get(reason, 0) + count)
    self.skipped_keyframes.extend(stats.skipped_keyframes)
    for reason, count in stats.rows_skipped.items():
      self.rows_skipped[reason] = self.rows_skipped.get(reason, 0) + count
    self.skipped_rows.extend(stats.skipped_rows)


@dataclasses.dataclass
class ShardStats:
  """The counts of one shard (kept in a hidden file beside the shard).

  Attributes:
    fingerprint: hash of the shard's keyframes and options (see
      `conversion`); a rerun skips the shard only if it matches.
    examples, boxes: records and boxes written.
    labels: {label id: boxes carrying it}.
    skipped: {reason: keyframes refused}.
    skipped_keyframes: the first few refused keyframes of each reason.
    rows_skipped: {reason: bad boxes or labels left out of written
      keyframes}.
    skipped_rows: the first few of those of each reason.
    clamped_clips: written clips that run past a video end.
  """
  fingerprint: str = ''
  examples: int = 0
  boxes: int = 0
  labels: Dict[int, int] = dataclasses.field(default_factory=dict)
  skipped: Dict[str, int] = dataclasses.field(default_factory=dict)
  skipped_keyframes: List[SkippedKeyframe] = dataclasses.field(
      default_factory=list)
  rows_skipped: Dict[str, int] = dataclasses.field(default_factory=dict)
  skipped_rows: List[SkippedKeyframe] = dataclasses.field(
      default_factory=list)
  clamped_clips: int = 0

  def skip(self, keyframe: annotations.KeyframeAnnotation, reason: str,
           message: str) -> None:
    """Counts (and logs) one refused keyframe."""
    logging.warning('skipped keyframe %s: %s', keyframe.key, message)
    count = self.skipped.get(reason, 0)
    self.skipped[reason] = count + 1
    if count < SKIPPED_EXAMPLES_PER_REASON:
      self.skipped_keyframes.append(
          SkippedKeyframe(keyframe.source, reason, message))

  def skip_rows(self, source: str, reason: str, message: str) -> None:
    """Counts (and logs) the rows of one bad box or label left out."""
    logging.warning('left out of its keyframe: %s', message)
    count = self.rows_skipped.get(reason, 0)
    self.rows_skipped[reason] = count + 1
    if count < SKIPPED_EXAMPLES_PER_REASON:
      self.skipped_rows.append(SkippedKeyframe(source, reason, message))

  def add_written(self, keyframe: annotations.KeyframeAnnotation,
                  clamped: bool) -> None:
    """Counts one written keyframe."""
    self.examples += 1
    self.boxes += len(keyframe.boxes)
    self.clamped_clips += int(clamped)
    for labels in keyframe.labels:
      for label in labels:
        self.labels[label] = self.labels.get(label, 0) + 1

  def to_json(self) -> str:
    content = dataclasses.asdict(self)
    content['labels'] = {str(k): v for k, v in sorted(self.labels.items())}
    return json.dumps(content, indent=1, sort_keys=True) + '\n'

  @classmethod
  def from_json(cls, text: str) -> 'ShardStats':
    content = json.loads(text)
    content['labels'] = {int(k): v for k, v in content['labels'].items()}
    for key in ('skipped_keyframes', 'skipped_rows'):
      content[key] = [
          SkippedKeyframe(*s) if isinstance(s, list) else SkippedKeyframe(**s)
          for s in content.get(key, [])]
    return cls(**content)


def is_final(progress: ConversionProgress) -> bool:
  """Whether `progress` is a conversion's last report (all shards done)."""
  return (progress.keyframes_done == progress.keyframes_total and
          progress.shards_done == progress.shards_total)


def format_progress(progress: ConversionProgress, width: int = 30) -> str:
  """One line: bar, keyframes done/total, rate, time left, skips."""
  total = max(progress.keyframes_total, 1)
  filled = width * progress.keyframes_done // total
  return (f'[{"#" * filled}{"." * (width - filled)}] '
          f'{progress.keyframes_done}/{progress.keyframes_total} keyframes, '
          f'{progress.keyframes_per_second:.1f}/s, '
          f'{progress_line.format_seconds(progress.seconds_left)} left, '
          f'shard {min(progress.shards_done + 1, progress.shards_total)}/'
          f'{progress.shards_total}, {progress.keyframes_skipped} skipped')


def format_summary(summary: ConversionSummary,
                   label_map: Optional[Mapping[int, str]] = None) -> str:
  """The summary as text for people (what the CLIs print)."""
  lines = [
      f'Wrote {summary.examples_written} examples with '
      f'{summary.boxes_written} boxes from {summary.num_keyframes} keyframes '
      f'into {len(summary.shard_paths)} shards '
      f'({len(summary.shards_written)} written now, '
      f'{len(summary.shards_already_complete)} already complete) in '
      f'{summary.elapsed_seconds:.1f} s.']
  if summary.shard_paths:
    lines.append(f'  shards: {summary.shard_paths[0]}' +
                 (f' ... {summary.shard_paths[-1]}'
                  if len(summary.shard_paths) > 1 else ''))
  lines.append(f'  label map: {summary.label_map_path}')
  if summary.clips_with_clamped_frames:
    lines.append(f'  clips with frames repeated past a video end: '
                 f'{summary.clips_with_clamped_frames}')
  if summary.labels_written:
    lines.append('Boxes per label:')
    for label, count in sorted(summary.labels_written.items()):
      name = (label_map or {}).get(label)
      lines.append(f'  {label:>4}{" " + name if name else ""}: {count}')
  if summary.keyframes_skipped:
    lines.append(f'Skipped {summary.num_skipped} keyframes:')
    for reason, count in sorted(summary.keyframes_skipped.items()):
      lines.append(f'  {reason}: {count}')
      for skipped in [s for s in summary.skipped_keyframes
                      if s.reason == reason][:3]:
        lines.append(f'    e.g. {skipped.message}')
  if summary.rows_skipped:
    lines.append(f'Left out {summary.num_rows_skipped} bad boxes or labels '
                 '(their keyframes were written with the other boxes):')
    for reason, count in sorted(summary.rows_skipped.items()):
      lines.append(f'  {reason}: {count}')
      for skipped in [s for s in summary.skipped_rows
                      if s.reason == reason][:3]:
        lines.append(f'    e.g. {skipped.message}')
  return '\n'.join(lines)


# The converters' exit status when records were written but rows or
# keyframes were skipped (without --allow_skipped).
EXIT_SKIPPED = 2


def exit_status(summary: ConversionSummary,
                allow_skipped: bool = False) -> Tuple[int, Optional[str]]:
  """The converter CLIs' exit status and the error line to print, if any.

  0: every keyframe and row was written; 1: nothing was written;
  `EXIT_SKIPPED` (2): records were written but keyframes or rows were
  skipped (the summary lists them), unless `allow_skipped`, which makes
  that 0.
  """
  if not summary.examples_written:
    return 1, 'no example could be written'
  skipped = summary.num_skipped + summary.num_rows_skipped
  if skipped and not allow_skipped:
    return EXIT_SKIPPED, (
        f'{summary.num_skipped} keyframes and {summary.num_rows_skipped} '
        'bad boxes or labels were skipped (listed above); the records hold '
        'everything else. Fix the rows, or pass --allow_skipped to accept '
        f'them (exit status {EXIT_SKIPPED} without it)')
  return 0, None
