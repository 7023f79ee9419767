"""input_throughput: the timing loop and the pipeline on written records."""

import os

import pytest
import tensorflow as tf

from acrn_tf.core import standard_fields as fields
from benchmarks import input_throughput

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
_ACRN_TINY = os.path.join(_REPO, 'configs', 'synthetic', 'acrn_tiny.config')


def _batches(sizes):
  return tf.data.Dataset.from_generator(
      lambda: ({fields.InputDataFields.frames: tf.zeros([n, 1])}
               for n in sizes),
      output_signature={fields.InputDataFields.frames: tf.TensorSpec(
          [None, 1], tf.float32)})


def test_counts_examples_after_the_warmup():
  stats = input_throughput.measure_throughput(_batches([5, 2, 3, 4]),
                                              num_batches=10,
                                              warmup_batches=1)
  assert stats['num_batches'] == 3 and stats['num_examples'] == 9
  assert stats['examples_per_second'] == pytest.approx(
      9 / stats['seconds'])


def test_nothing_left_to_time():
  with pytest.raises(ValueError, match='ended within the 2 warm-up batches'):
    input_throughput.measure_throughput(_batches([1, 1]), 3, 2)


def test_pipeline_on_synthetic_records_when_the_configs_are_missing(
    tmp_path):
  # The tiny config, smaller, reading records that do not exist.
  text = open(_ACRN_TINY, encoding='utf-8').read()
  for before, after in (('frames_per_clip: 8', 'frames_per_clip: 3'),
                        ('image_height: 96', 'image_height: 16'),
                        ('image_width: 128', 'image_width: 32'),
                        ('batch_size: 4\n  num_steps', 'batch_size: 2\n  num_steps'),
                        ('workspace/records/', 'missing/')):
    assert before in text
    text = text.replace(before, after)
  config = tmp_path / 'pipeline.config'
  config.write_text(text, encoding='utf-8')
  result = input_throughput.measure_input_pipeline(
      str(config), num_batches=4, warmup_batches=1,
      scratch_dir=str(tmp_path))
  assert result.synthetic_records
  assert result.batch_size == 2 and result.clip_shape == (3, 16, 32)
  assert result.stats['num_examples'] == 8
  assert result.examples_per_second > 0


def test_written_records_decode_with_the_pipeline(tmp_path):
  pattern = input_throughput.write_benchmark_records(
      str(tmp_path), num_records=3, num_frames=2, height=8, width=10,
      num_classes=2, num_shards=2)
  assert len(tf.io.gfile.glob(pattern)) == 2
  records = list(tf.data.TFRecordDataset(tf.io.gfile.glob(pattern)))
  assert len(records) == 3
  with pytest.raises(ValueError, match='counts and sizes must be >= 1'):
    input_throughput.write_benchmark_records(str(tmp_path), 0, 2, 8, 10, 2)
