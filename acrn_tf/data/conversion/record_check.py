"""Checks keyframe TFRecords, read through the input pipeline, against a csv.

The records are read exactly as training reads them (the caller passes
`dataset_builder.build`: decoding, clip sampling, resizing, box padding; it
is passed in because builders sit above data), but for one epoch, in file
order, without augmentation and without dropping or sampling examples, so
that every record is seen once. Each example's boxes and label lists are
compared with the AVA-format csv it was converted from (rows `video_id,
timestamp, x1, y1, x2, y2, action_id[, person_id]`), keyframes matched on
(video_id, timestamp rounded to the millisecond):

  report = record_check.check_records(reader_config, 'train.csv',
                                      label_map_path='label_map.pbtxt',
                                      build_dataset=dataset_builder.build)
  if not report.ok: ...

Boxes come out of the pipeline normalised to the output image; where the
pipeline pads (its valid region is `true_image_shape`), they are taken back
to the normalised coordinates of the stored frame before the comparison.
The csv's labels outside the label map are left out of the comparison (as
a class-subset conversion leaves them out), then boxes left without a label,
then keyframes left without a box.
"""

import copy
import dataclasses
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from absl import logging
import numpy as np
import tensorflow as tf

from acrn_tf.core import standard_fields
from acrn_tf.data import label_map_util
from acrn_tf.data.conversion import annotations
from acrn_tf.data.conversion import ava
from acrn_tf.data.conversion import sequence_example_writer as writer_lib
from acrn_tf.protos import input_reader_pb2

_fields = standard_fields.InputDataFields

DEFAULT_TOLERANCE = 1e-3

# Kinds of mismatch.
MISMATCH_MISSING = 'keyframe missing from the records'
MISMATCH_NOT_IN_CSV = 'keyframe not in the csv'
MISMATCH_EXCLUDED = 'excluded keyframe in the records'
MISMATCH_DUPLICATE = 'keyframe in several records'
MISMATCH_BOX = 'box differs'
MISMATCH_MISSING_BOX = 'box missing from the record'
MISMATCH_EXTRA_BOX = 'box not in the csv'
MISMATCH_LABELS = 'labels differ'

# Only boxes and labels are compared: the smallest clip and image the
# pipeline accepts when there is no pipeline config to take them from.
_MINIMAL_CLIP = dict(frames_per_clip=1, image_height=16, image_width=16)

KeyframeKey = Tuple[str, float]


class RecordCheckError(ValueError):
  """The check cannot run: unreadable inputs or an undecodable record."""


def keyframe_key(video_id, timestamp: float) -> KeyframeKey:
  """(video_id, timestamp in seconds rounded to the millisecond)."""
  if isinstance(video_id, bytes):
    video_id = video_id.decode('utf-8')
  return (video_id, round(float(timestamp), 3))


@dataclasses.dataclass(frozen=True)
class Mismatch:
  """One difference between the records and the csv.

  Attributes:
    video_id: the keyframe's video.
    timestamp: the keyframe's time in seconds.
    kind: one of the MISMATCH_* constants.
    message: what differs, with the csv line where there is one.
  """
  video_id: str
  timestamp: float
  kind: str
  message: str


@dataclasses.dataclass
class ExpectedKeyframes:
  """What the csv says the records hold.

  Attributes:
    keyframes: {key: annotation} of every keyframe to find in the records.
    excluded: keys of the csv's keyframes listed as excluded timestamps.
    labels_outside_label_map: csv rows whose label is not in the label map.
    bad_boxes: csv boxes the converter leaves out (outside [0, 1] or
      empty; `sequence_example_writer.drop_invalid_rows`).
    num_rows: annotation rows read.
  """
  keyframes: Dict[KeyframeKey, annotations.KeyframeAnnotation]
  excluded: Set[KeyframeKey]
  labels_outside_label_map: int = 0
  bad_boxes: int = 0
  num_rows: int = 0


@dataclasses.dataclass
class RecordCheckReport:
  """The outcome of `check_records`.

  Attributes:
    examples_read: examples the pipeline yielded.
    keyframes_in_csv: keyframes the csv expects (after exclusions).
    keyframes_excluded: csv keyframes left out as excluded timestamps.
    boxes_checked: csv boxes compared with a record's boxes.
    labels_outside_label_map: csv rows left out for their label.
    bad_boxes: csv boxes left out as the converter leaves them out.
    mismatches: every difference found, in record order then csv order.
  """
  examples_read: int = 0
  keyframes_in_csv: int = 0
  keyframes_excluded: int = 0
  boxes_checked: int = 0
  labels_outside_label_map: int = 0
  bad_boxes: int = 0
  mismatches: List[Mismatch] = dataclasses.field(default_factory=list)

  @property
  def ok(self) -> bool:
    return not self.mismatches

  def counts_by_kind(self) -> Dict[str, int]:
    counts = {}
    for mismatch in self.mismatches:
      counts[mismatch.kind] = counts.get(mismatch.kind, 0) + 1
    return dict(sorted(counts.items()))


def read_expected_keyframes(annotation_csv: str,
                            label_ids: Sequence[int],
                            excluded_timestamps_csv: Optional[str] = None
                            ) -> ExpectedKeyframes:
  """Reads an AVA-format csv into the keyframes the records should hold.

  Written here rather than with `ava.read_annotations`, which also locates
  every video; the checker needs no videos. Rows are grouped the way the
  converter groups them (`annotations.group_box_rows`).

  Args:
    annotation_csv: the csv (a first row starting `video_id` is a header).
    label_ids: the label map's ids; other labels are left out.
    excluded_timestamps_csv: optional `video_id, timestamp` rows to leave out.

  Returns:
    The ExpectedKeyframes.

  Raises:
    ava.AvaFormatError: for an unreadable csv or a malformed row (file:line).
  """
  known = set(int(i) for i in label_ids)
  excluded_rows = (ava.read_excluded_timestamps(excluded_timestamps_csv)
                   if excluded_timestamps_csv else set())
  excluded_keys = {keyframe_key(v, t) for v, t in excluded_rows}
  rows, excluded, outside, num_rows = [], set(), 0, 0
  for line, cells in ava.csv_rows(annotation_csv):
    if len(cells) not in (7, 8):
      raise ava.AvaFormatError(
          f'{annotation_csv}:{line}: expected 8 columns '
          f'`{", ".join(ava.COLUMNS)}` (or 7 without person_id), got '
          f'{len(cells)}')
    if num_rows == 0 and cells[0] == ava.COLUMNS[0]:
      continue
    num_rows += 1
    timestamp, x1, y1, x2, y2 = (
        ava.parse_number(annotation_csv, line, column, value)
        for column, value in zip(ava.COLUMNS[1:6], cells[1:6]))
    action_id = ava.parse_number(annotation_csv, line, 'action_id',
                                 cells[6], integer=True)
    person_id = (ava.parse_number(annotation_csv, line, 'person_id',
                                  cells[7], integer=True)
                 if len(cells) == 8 and cells[7] else -1)
    key = keyframe_key(cells[0], timestamp)
    if key in excluded_keys:
      excluded.add(key)
      continue
    if action_id not in known:
      outside += 1
      continue
    rows.append(annotations.BoxRow(
        video_id=cells[0], video_path='', keyframe_timestamp=timestamp,
        keyframe_frame_number=None, box=(y1, x1, y2, x2),
        label_ids=(action_id,), track_id=person_id,
        source=f'{annotation_csv}:{line}'))
  if not num_rows:
    raise ava.AvaFormatError(f'{annotation_csv}: the csv holds no annotation '
                             'rows')
  keyframes, bad_boxes = {}, 0
  for keyframe in annotations.group_box_rows(rows):
    # The converter leaves bad boxes out and keeps the keyframe's others.
    valid, dropped = writer_lib.drop_invalid_rows(keyframe, known)
    bad_boxes += len(dropped)
    if valid is not None:
      keyframes[keyframe_key(keyframe.video_id,
                             keyframe.keyframe_timestamp)] = valid
  return ExpectedKeyframes(keyframes=keyframes, excluded=excluded,
                           labels_outside_label_map=outside,
                           bad_boxes=bad_boxes, num_rows=num_rows)


def boxes_in_stored_frame(boxes: np.ndarray, true_image_shape: Sequence[int],
                          image_shape: Sequence[int]) -> np.ndarray:
  """Takes pipeline boxes back to normalised coordinates of the stored frame.

  The pipeline resizes the frame to its valid region `true_image_shape`
  (height, width) and pads it to `image_shape`; its boxes are normalised to
  the padded image. Without padding this is the identity.

  Args:
    boxes: `[N, 4]` `[ymin, xmin, ymax, xmax]` normalised to the output image.
    true_image_shape: (height, width[, channels]) of the valid region.
    image_shape: (height, width) of the output image.

  Returns:
    float64 `[N, 4]` boxes normalised to the stored frame.
  """
  scale = (np.asarray(image_shape[:2], np.float64) /
           np.asarray(true_image_shape[:2], np.float64))
  return np.asarray(boxes, np.float64).reshape(-1, 4) * np.tile(scale, 2)


def _format_box(box) -> str:
  return '[' + ', '.join(f'{v:.4f}' for v in box) + ']'


def compare_keyframe(expected: annotations.KeyframeAnnotation,
                     boxes: np.ndarray,
                     labels: Sequence[Sequence[int]],
                     track_ids: Sequence[int],
                     tolerance: float = DEFAULT_TOLERANCE,
                     max_num_boxes: Optional[int] = None
                     ) -> Tuple[List[Mismatch], int]:
  """Compares one record's boxes and labels with its csv keyframe.

  Csv boxes are paired with record boxes in two rounds, so that one moved
  box does not pull its neighbours' pairs apart: first each csv box (in csv
  order) that has an unused record box within `tolerance` takes the closest
  such box, one with the same track id first; then each remaining csv box
  takes the closest unused record box (same track id first) and is reported
  as moved. The difference of two boxes is their largest coordinate
  difference.

  Args:
    expected: the csv keyframe (boxes `[ymin, xmin, ymax, xmax]` normalised).
    boxes: the record's `[M, 4]` boxes, normalised to the stored frame.
    labels: the record's label ids of each box.
    track_ids: the record's track id of each box (-1 unknown).
    tolerance: largest coordinate difference of equal boxes.
    max_num_boxes: the pipeline's box limit, named when it explains a
      missing box.

  Returns:
    (mismatches in csv box order, then the unpaired record boxes; number of
    csv boxes compared).
  """
  video_id, timestamp = expected.video_id, expected.keyframe_timestamp
  boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
  unused = list(range(len(boxes)))
  found = {}  # csv box index -> (kind, message)

  def closest(i, within_tolerance):
    """Pops and returns (record index, difference) for csv box i, or None."""
    box = np.asarray(expected.boxes[i], np.float64)
    candidates = [(float(np.max(np.abs(boxes[j] - box))), j) for j in unused]
    if within_tolerance:
      candidates = [c for c in candidates if c[0] <= tolerance]
    if not candidates:
      return None
    difference, j = min(candidates, key=lambda c: (
        track_ids[c[1]] != expected.track_ids[i], c[0]))
    unused.remove(j)
    return j, difference

  def where(i):
    return (f'csv box {_format_box(expected.boxes[i])} '
            f'(person {expected.track_ids[i]})')

  for i, box_labels in enumerate(expected.labels):
    pair = closest(i, within_tolerance=True)
    if pair is None:
      continue
    j = pair[0]
    if sorted(set(labels[j])) != sorted(set(box_labels)):
      found[i] = (MISMATCH_LABELS,
                  f'{where(i)}: labels {sorted(set(box_labels))} in the csv, '
                  f'{sorted(set(labels[j]))} in the record')
    else:
      found[i] = None
  for i in range(len(expected.boxes)):
    if i in found:
      continue
    pair = closest(i, within_tolerance=False)
    if pair is None:
      limit = ''
      if max_num_boxes is not None and len(boxes) >= max_num_boxes:
        limit = (f'; the pipeline keeps at most max_num_boxes = '
                 f'{max_num_boxes} boxes')
      found[i] = (MISMATCH_MISSING_BOX,
                  f'{where(i)}: the record has no box left ({len(boxes)} '
                  f'boxes, the csv {len(expected.boxes)}){limit}')
    else:
      j, difference = pair
      found[i] = (MISMATCH_BOX,
                  f'{where(i)}: the closest record box {_format_box(boxes[j])}'
                  f' differs by {difference:.4f} (tolerance {tolerance:g})')
  mismatches = [Mismatch(video_id, timestamp, *found[i])
                for i in sorted(found) if found[i] is not None]
  for j in sorted(unused):
    mismatches.append(Mismatch(
        video_id, timestamp, MISMATCH_EXTRA_BOX,
        f'record box {_format_box(boxes[j])} (track {track_ids[j]}, labels '
        f'{sorted(set(labels[j]))}) matches no csv box'))
  return mismatches, len(expected.boxes)


def reader_config_for_check(
    config: Optional[input_reader_pb2.InputReader] = None,
    input_paths: Sequence[str] = (),
    label_map_path: Optional[str] = None) -> input_reader_pb2.InputReader:
  """The input reader that reads every record once, in file order.

  Args:
    config: the training or evaluation input reader (None: a minimal one,
      1-frame clips of 16 x 16, which suffices for boxes and labels).
    input_paths: replace the reader's input paths when given.
    label_map_path: replace the reader's label map when given.

  Returns:
    A copy with one epoch, no shuffling, no example sampling, no short-clip
    dropping and no augmentation.
  """
  if config is None:
    reader = input_reader_pb2.InputReader(**_MINIMAL_CLIP)
  else:
    reader = copy.deepcopy(config)
  if input_paths:
    del reader.tf_record_input_reader.input_path[:]
    reader.tf_record_input_reader.input_path.extend(input_paths)
  if label_map_path:
    reader.label_map_path = label_map_path
  reader.num_epochs = 1
  reader.shuffle = False
  reader.sample_1_of_n_examples = 1
  reader.drop_short_clips = False
  reader.deterministic = True
  reader.ClearField('augmentation')
  return reader


def _label_lists(multi_hot: np.ndarray, label_ids: Sequence[int]
                 ) -> List[Tuple[int, ...]]:
  """Label ids of each row of a `[N, K]` multi-hot (column k = k-th id)."""
  ids = np.asarray(sorted(label_ids))
  return [tuple(int(i) for i in ids[row > 0.5]) for row in multi_hot]


def check_records(input_reader_config: input_reader_pb2.InputReader,
                  annotation_csv: str,
                  label_map_path: Optional[str] = None,
                  excluded_timestamps_csv: Optional[str] = None,
                  tolerance: float = DEFAULT_TOLERANCE,
                  *,
                  build_dataset: Callable[..., tf.data.Dataset]
                  ) -> RecordCheckReport:
  """Reads every record through the input pipeline and compares with the csv.

  Args:
    input_reader_config: the reader (its input paths and clip settings);
      it is used through `reader_config_for_check`.
    annotation_csv: the AVA-format csv the records were converted from.
    label_map_path: the label map of the records (default: the reader's).
    excluded_timestamps_csv: optional csv of keyframes the conversion left
      out on purpose.
    tolerance: largest coordinate difference of equal boxes (normalised).
    build_dataset: the input pipeline, `dataset_builder.build` (called as
      `build_dataset(reader, batch_size=1, is_training=False,
      label_ids=...)`).

  Returns:
    The RecordCheckReport (see `RecordCheckReport.ok`).

  Raises:
    RecordCheckError: for no label map, no matching record file, or a record
      the pipeline cannot decode (e.g. a label outside the label map, or
      use_flow on records without flow).
    ava.AvaFormatError, label_map_util.LabelMapError: for unreadable inputs.
  """
  reader = reader_config_for_check(input_reader_config,
                                   label_map_path=label_map_path)
  if not reader.label_map_path:
    raise RecordCheckError('no label map: give label_map_path or set the '
                           'input reader\'s label_map_path')
  label_ids = sorted(label_map_util.read_label_map(reader.label_map_path))
  expected = read_expected_keyframes(annotation_csv, label_ids,
                                     excluded_timestamps_csv)
  report = RecordCheckReport(
      keyframes_in_csv=len(expected.keyframes),
      keyframes_excluded=len(expected.excluded),
      labels_outside_label_map=expected.labels_outside_label_map,
      bad_boxes=expected.bad_boxes)
  try:
    dataset = build_dataset(reader, batch_size=1, is_training=False,
                            label_ids=label_ids)
  except ValueError as e:  # e.g. dataset_builder.InputFilesNotFoundError
    raise RecordCheckError(str(e)) from e
  image_shape = (reader.image_height, reader.image_width)
  seen = set()
  iterator = dataset.as_numpy_iterator()
  while True:
    try:
      batch = next(iterator)
    except StopIteration:
      break
    except tf.errors.OpError as e:
      raise RecordCheckError(
          f'{list(reader.tf_record_input_reader.input_path)}: the record '
          f'after {report.examples_read} good examples cannot be read by the '
          f'input pipeline: {e.message}') from e
    report.examples_read += 1
    _check_example(batch, expected, seen, label_ids, image_shape,
                   reader.max_num_boxes, tolerance, report)
  for key, keyframe in expected.keyframes.items():
    if key not in seen:
      report.mismatches.append(Mismatch(
          key[0], key[1], MISMATCH_MISSING,
          f'{keyframe.source}: the csv keyframe ({len(keyframe.boxes)} '
          'boxes) is in no record'))
  logging.info('checked %d examples, %d boxes: %d mismatches',
               report.examples_read, report.boxes_checked,
               len(report.mismatches))
  return report


def _check_example(batch, expected, seen, label_ids, image_shape,
                   max_num_boxes, tolerance, report):
  """Compares one batch-of-1 example with the csv; updates the report."""
  key = keyframe_key(batch[_fields.video_id][0],
                     batch[_fields.keyframe_timestamp][0])
  if key in seen:
    report.mismatches.append(Mismatch(
        key[0], key[1], MISMATCH_DUPLICATE,
        'the keyframe is in more than one record'))
    return
  seen.add(key)
  keyframe = expected.keyframes.get(key)
  if keyframe is None:
    kind, message = MISMATCH_NOT_IN_CSV, 'the record has no csv keyframe'
    if key in expected.excluded:
      kind = MISMATCH_EXCLUDED
      message = 'the keyframe is listed in the excluded timestamps'
    report.mismatches.append(Mismatch(key[0], key[1], kind, message))
    return
  num_boxes = int(batch[_fields.num_groundtruth_boxes][0])
  boxes = boxes_in_stored_frame(
      batch[_fields.groundtruth_boxes][0][:num_boxes],
      batch[_fields.true_image_shape][0], image_shape)
  labels = _label_lists(batch[_fields.groundtruth_classes][0][:num_boxes],
                        label_ids)
  track_ids = [int(t) for t in
               batch[_fields.groundtruth_track_ids][0][:num_boxes]]
  mismatches, num_checked = compare_keyframe(
      keyframe, boxes, labels, track_ids, tolerance, max_num_boxes)
  report.mismatches.extend(mismatches)
  report.boxes_checked += num_checked


def format_report(report: RecordCheckReport, max_listed: int = 50) -> str:
  """The report as text for people (what tools/check_records prints)."""
  lines = [
      f'Read {report.examples_read} examples; the csv expects '
      f'{report.keyframes_in_csv} keyframes '
      f'({report.keyframes_excluded} excluded); checked '
      f'{report.boxes_checked} boxes.']
  if report.labels_outside_label_map:
    lines.append(f'  csv rows with a label outside the label map (not '
                 f'compared): {report.labels_outside_label_map}')
  if report.bad_boxes:
    lines.append(f'  csv boxes outside [0, 1] or empty, which the converter '
                 f'leaves out (not compared): {report.bad_boxes}')
  if report.ok:
    lines.append('OK: every example matches the csv.')
    return '\n'.join(lines)
  lines.append(f'{len(report.mismatches)} mismatches:')
  for kind, count in report.counts_by_kind().items():
    lines.append(f'  {kind}: {count}')
  for mismatch in report.mismatches[:max_listed]:
    lines.append(f'  {mismatch.video_id} @ {mismatch.timestamp:g}: '
                 f'{mismatch.kind}: {mismatch.message}')
  if len(report.mismatches) > max_listed:
    lines.append(f'  ... and {len(report.mismatches) - max_listed} more')
  return '\n'.join(lines)
