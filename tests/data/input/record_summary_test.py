"""The first records of a file, summarised without decoding frames."""

import numpy as np
import pytest
import tensorflow as tf

from acrn_tf.data.input import record_summary
from tests.data.input import sequence_example_fixtures as fx


def test_clip_flow_labels_and_box_sizes(tmp_path):
  path = str(tmp_path / 'a.tfrecord')
  with tf.io.TFRecordWriter(path) as writer:
    for labels in (fx.LABELS[:1], fx.LABELS):
      writer.write(fx.sequence_example(
          fx.make_frames(5), fx.BOXES[:len(labels)], labels,
          keyframe_index=2, frame_stride=3,
          quantised_flow=fx.make_quantised_flow(5)))
  summary = record_summary.summarize(path)
  assert (summary.num_records, summary.num_frames, summary.keyframe_index,
          summary.frame_stride, summary.fps) == (2, 5, 2, 3, 30.0)
  assert summary.has_flow
  assert summary.max_labels_per_box == 3
  # Box 0 of both records, then boxes 1 and 2: (ymax - ymin, xmax - xmin).
  expected = [(0.4, 0.2), (0.4, 0.2), (0.6, 0.25), (0.25, 0.25)]
  np.testing.assert_allclose(summary.box_sizes, expected, rtol=1e-6)
  assert record_summary.summarize(path, max_records=1).max_labels_per_box == 2


def test_no_flow_and_empty_files(tmp_path):
  path = str(tmp_path / 'a.tfrecord')
  with tf.io.TFRecordWriter(path) as writer:
    writer.write(fx.sequence_example(fx.make_frames(2), (), ()))
  assert not record_summary.summarize(path).has_flow
  empty = str(tmp_path / 'empty.tfrecord')
  with tf.io.TFRecordWriter(empty):
    pass
  with pytest.raises(record_summary.RecordSummaryError,
                     match=r'empty\.tfrecord: holds no records'):
    record_summary.summarize(empty)
  garbage = tmp_path / 'garbage.tfrecord'
  garbage.write_bytes(b'not a record')
  with pytest.raises(record_summary.RecordSummaryError,
                     match=r'garbage\.tfrecord: cannot read keyframe records'):
    record_summary.summarize(str(garbage))
