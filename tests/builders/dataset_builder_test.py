"""The tf.data input pipeline built from an InputReader config."""

import sys
import types

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format

from acrn_tf.builders import dataset_builder
from acrn_tf.core import standard_fields
from acrn_tf.protos import input_reader_pb2
from tests.data.input import sequence_example_fixtures as fx

fields = standard_fields.InputDataFields


@pytest.fixture(scope='module')
def records(tmp_path_factory):
  """Two shards of three 5-frame records with flow (1, 2, 3 boxes)."""
  return fx.write_records(str(tmp_path_factory.mktemp('records')),
                          with_flow=True)


def _config(pattern, text=''):
  return text_format.Merge(
      f'tf_record_input_reader {{ input_path: "{pattern}" }}\n'
      'frames_per_clip: 3 image_height: 16 image_width: 24 max_num_boxes: 4\n'
      + text, input_reader_pb2.InputReader())


def _collect(dataset, num_batches=None):
  if num_batches is not None:
    dataset = dataset.take(num_batches)
  return [{k: v.numpy() for k, v in batch.items()} for batch in dataset]


_AUGMENTED = """
  use_flow: true deterministic: true
  augmentation { random_horizontal_flip: true min_crop_area_fraction: 0.5
                 min_scale: 0.8 max_scale: 1.2 max_brightness_delta: 0.1 }
"""


def test_training_batches_have_fixed_static_shapes(records):
  dataset = dataset_builder.build(_config(records, _AUGMENTED + 'seed: 1'),
                                  batch_size=2, is_training=True,
                                  label_ids=fx.LABEL_IDS)
  expected = {
      fields.frames: ([2, 3, 16, 24, 3], tf.uint8),
      fields.flow: ([2, 3, 16, 24, 2], tf.float32),
      fields.keyframe: ([2, 16, 24, 3], tf.uint8),
      fields.keyframe_index: ([2], tf.int32),
      fields.groundtruth_boxes: ([2, 4, 4], tf.float32),
      fields.groundtruth_classes: ([2, 4, 4], tf.float32),
      fields.groundtruth_track_ids: ([2, 4], tf.int32),
      fields.groundtruth_valid: ([2, 4], tf.bool),
      fields.num_groundtruth_boxes: ([2], tf.int32),
      fields.video_id: ([2], tf.string),
      fields.keyframe_timestamp: ([2], tf.float32),
      fields.true_image_shape: ([2, 3], tf.int32),
      fields.original_frame_shape: ([2, 2], tf.int32),
  }
  spec = dataset.element_spec
  assert set(spec) == set(expected)
  for key, (shape, dtype) in expected.items():
    assert spec[key].shape.as_list() == shape, key
    assert spec[key].dtype == dtype, key
  batch = _collect(dataset, 1)[0]
  assert batch[fields.frames].shape == (2, 3, 16, 24, 3)
  np.testing.assert_array_equal(batch[fields.keyframe_index], [1, 1])
  np.testing.assert_array_equal(batch[fields.keyframe],
                                batch[fields.frames][:, 1])


def test_padding_valid_mask_and_values_in_order(records):
  config = _config(records, 'shuffle: false num_epochs: 1 deterministic: true '
                   'num_readers: 1')
  batches = _collect(dataset_builder.build(config, 3, is_training=False,
                                           label_ids=fx.LABEL_IDS))
  assert [len(b[fields.video_id]) for b in batches] == [3, 3]
  batch = batches[0]  # the first shard: examples 0, 1, 2 with 1, 2, 3 boxes
  np.testing.assert_array_equal(batch[fields.video_id],
                                [b'video_0', b'video_1', b'video_2'])
  np.testing.assert_allclose(batch[fields.keyframe_timestamp],
                             [900, 901, 902])
  np.testing.assert_array_equal(batch[fields.num_groundtruth_boxes],
                                [1, 2, 3])
  np.testing.assert_array_equal(batch[fields.groundtruth_valid],
                                [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0]])
  np.testing.assert_array_equal(batch[fields.groundtruth_track_ids],
                                [[7, -1, -1, -1], [7, 8, -1, -1],
                                 [7, 8, 9, -1]])
  np.testing.assert_allclose(batch[fields.groundtruth_boxes][2, :3],
                             fx.BOXES, atol=1e-6)
  assert not batch[fields.groundtruth_boxes][2, 3].any()
  np.testing.assert_array_equal(
      batch[fields.groundtruth_classes][2],
      [[1, 0, 1, 0], [0, 1, 0, 0], [1, 1, 0, 1], [0, 0, 0, 0]])
  np.testing.assert_array_equal(batch[fields.true_image_shape],
                                [[16, 24, 3]] * 3)
  np.testing.assert_array_equal(batch[fields.original_frame_shape],
                                [[fx.HEIGHT, fx.WIDTH]] * 3)


def test_boxes_beyond_max_num_boxes_are_truncated(records):
  config = _config(records, 'shuffle: false num_epochs: 1 deterministic: true '
                   'num_readers: 1 '
                   'max_num_boxes: 2')
  batch = _collect(dataset_builder.build(config, 3, False,
                                         label_ids=fx.LABEL_IDS), 1)[0]
  np.testing.assert_array_equal(batch[fields.num_groundtruth_boxes],
                                [1, 2, 2])
  np.testing.assert_array_equal(batch[fields.groundtruth_track_ids][2],
                                [7, 8])


def test_same_seed_same_batches_and_different_seed_different(records):
  def batches(seed):
    config = _config(records, _AUGMENTED + f'seed: {seed}')
    return _collect(dataset_builder.build(config, 2, True,
                                          label_ids=fx.LABEL_IDS), 3)

  first, again, other = batches(5), batches(5), batches(6)
  for batch, same in zip(first, again):
    for key in batch:
      np.testing.assert_array_equal(batch[key], same[key], err_msg=key)
  assert any(not np.array_equal(a[fields.frames], b[fields.frames])
             for a, b in zip(first, other))


def test_no_matching_file_is_an_error_naming_the_patterns(tmp_path):
  pattern = str(tmp_path / 'nothing-*.tfrecord')
  with pytest.raises(dataset_builder.InputFilesNotFoundError,
                     match='no file matches .*nothing-'):
    dataset_builder.build(_config(pattern), 2, True, label_ids=fx.LABEL_IDS)


def test_drop_short_clips(records, tmp_path):
  long_pattern = fx.write_records(str(tmp_path), num_shards=1, num_frames=9,
                                  prefix='long')
  config = _config(records, 'shuffle: false num_epochs: 1 frames_per_clip: 6')
  config.tf_record_input_reader.input_path.append(long_pattern)

  def count(drop):
    config.drop_short_clips = drop
    batches = _collect(dataset_builder.build(config, 4, False,
                                             label_ids=fx.LABEL_IDS))
    return sum(len(b[fields.video_id]) for b in batches)

  # 5-frame clips need stored frames -1..4 for 6 frames; 9-frame ones 1..6.
  assert count(drop=False) == 9
  assert count(drop=True) == 3


def test_epochs_and_sample_1_of_n(records):
  config = _config(records, 'shuffle: false num_epochs: 2 '
                   'sample_1_of_n_examples: 2')
  batches = _collect(dataset_builder.build(config, 4, False,
                                           label_ids=fx.LABEL_IDS))
  # 6 records -> 3 per epoch, 2 epochs; evaluation keeps the partial batch.
  assert [len(b[fields.video_id]) for b in batches] == [4, 2]


def test_input_context_splits_the_files_between_workers(records):
  config = _config(records, 'shuffle: false num_epochs: 1')
  seen = []
  for pipeline_id in range(2):
    context = tf.distribute.InputContext(num_input_pipelines=2,
                                         input_pipeline_id=pipeline_id,
                                         num_replicas_in_sync=2)
    batches = _collect(dataset_builder.build(
        config, 4, False, label_ids=fx.LABEL_IDS, input_context=context))
    # Global batch 4 over 2 replicas: 2 per replica.
    assert [len(b[fields.video_id]) for b in batches] == [2, 1]
    seen.append({v for b in batches for v in b[fields.video_id]})
  assert not seen[0] & seen[1]
  assert len(seen[0] | seen[1]) == 6


def test_label_ids_come_from_the_label_map_reader(records, monkeypatch):
  fake = types.ModuleType('acrn_tf.data.label_map_util')
  fake.get_label_map_dict = lambda path: {'a': 6, 'b': 1, 'c': 3, 'd': 2}
  monkeypatch.setitem(sys.modules, 'acrn_tf.data.label_map_util', fake)
  import acrn_tf.data  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(acrn_tf.data, 'label_map_util', fake, raising=False)
  config = _config(records, 'label_map_path: "map.pbtxt" shuffle: false')
  assert dataset_builder.label_ids_from_label_map('map.pbtxt') == [1, 2, 3, 6]
  batch = _collect(dataset_builder.build(config, 3, True), 1)[0]
  assert batch[fields.groundtruth_classes].shape == (3, 4, 4)


def test_bad_arguments_are_refused(records):
  with pytest.raises(ValueError, match='batch_size must be >= 1, got 0'):
    dataset_builder.build(_config(records), 0, True, label_ids=fx.LABEL_IDS)
  with pytest.raises(ValueError, match='tf_record_input_reader is required'):
    dataset_builder.build(input_reader_pb2.InputReader(name='x'), 1, True,
                          label_ids=fx.LABEL_IDS)
  with pytest.raises(ValueError, match='label_map_path: is required'):
    dataset_builder.build(_config(records), 1, True)
