"""Decoding keyframe SequenceExamples built from the documented schema."""

import numpy as np
import pytest
import tensorflow as tf

from acrn_tf.core import standard_fields
from acrn_tf.data.input import decoder
from tests.data.input import sequence_example_fixtures as fx

fields = standard_fields.InputDataFields


def _decode(serialized, **kwargs):
  example_decoder = decoder.SequenceExampleDecoder(
      kwargs.pop('label_ids', fx.LABEL_IDS), **kwargs)
  return example_decoder.decode(tf.constant(serialized))


def test_round_trip_boxes_labels_track_ids_and_context():
  frames = fx.make_frames(5)
  serialized = fx.sequence_example(
      frames, fx.BOXES, fx.LABELS, fx.TRACK_IDS, keyframe_index=3,
      video_id='abc', keyframe_timestamp=905.5)
  out = _decode(serialized)
  np.testing.assert_allclose(out[fields.groundtruth_boxes].numpy(),
                             np.array(fx.BOXES, np.float32))
  # Label ids (1, 2, 3, 6) -> columns 0..3.
  np.testing.assert_array_equal(out[fields.groundtruth_classes].numpy(),
                                [[1, 0, 1, 0], [0, 1, 0, 0], [1, 1, 0, 1]])
  assert out[fields.groundtruth_classes].dtype == tf.float32
  np.testing.assert_array_equal(out[fields.groundtruth_track_ids].numpy(),
                                [7, 8, 9])
  assert out[fields.num_groundtruth_boxes].numpy() == 3
  assert out[fields.video_id].numpy() == b'abc'
  assert out[fields.keyframe_timestamp].numpy() == pytest.approx(905.5)
  assert out[fields.keyframe_index].numpy() == 3
  np.testing.assert_array_equal(out[fields.original_frame_shape].numpy(),
                                [fx.HEIGHT, fx.WIDTH])
  assert fields.flow not in out


def test_frames_are_close_to_the_originals_after_jpeg():
  frames = fx.make_frames(4)
  out = _decode(fx.sequence_example(frames, fx.BOXES[:1], fx.LABELS[:1]))
  decoded = out[fields.frames].numpy()
  assert decoded.dtype == np.uint8
  assert decoded.shape == (4, fx.HEIGHT, fx.WIDTH, 3)
  error = np.abs(decoded.astype(int) - frames.astype(int))
  assert error.mean() < 1.5
  assert error.max() <= 12


def test_label_ids_given_in_any_order_give_ascending_columns():
  out = _decode(fx.sequence_example(fx.make_frames(1), fx.BOXES[2:],
                                    fx.LABELS[2:]),
                label_ids=(6, 3, 2, 1))
  np.testing.assert_array_equal(out[fields.groundtruth_classes].numpy(),
                                [[1, 1, 0, 1]])


def test_flow_is_dequantised_within_one_step():
  quantised = fx.make_quantised_flow(3)
  out = _decode(fx.sequence_example(fx.make_frames(3), fx.BOXES, fx.LABELS,
                                    quantised_flow=quantised),
                use_flow=True)
  flow = out[fields.flow].numpy()
  assert flow.shape == (3, fx.HEIGHT, fx.WIDTH, 2)
  step = 2.0 * fx.FLOW_BOUND / 255.0
  np.testing.assert_allclose(flow, fx.dequantise(quantised), rtol=0,
                             atol=step + 1e-5)
  # Frame 0's x flow at column 0 is level 60: (60 / 255 * 2 - 1) * 20 pixels.
  assert flow[0, :, 0, 0] == pytest.approx(np.full(fx.HEIGHT, -10.588),
                                           abs=step + 1e-3)


def test_missing_track_ids_become_minus_one():
  out = _decode(fx.sequence_example(fx.make_frames(1), fx.BOXES[:2],
                                    fx.LABELS[:2], track_ids=None))
  np.testing.assert_array_equal(out[fields.groundtruth_track_ids].numpy(),
                                [-1, -1])


def test_a_keyframe_without_boxes():
  out = _decode(fx.sequence_example(fx.make_frames(2), (), ()))
  assert out[fields.groundtruth_boxes].shape == (0, 4)
  assert out[fields.groundtruth_classes].shape == (0, 4)
  assert out[fields.num_groundtruth_boxes].numpy() == 0


def test_clip_sampling_decodes_the_right_stored_frames():
  frames = fx.make_frames(5)
  example_decoder = decoder.SequenceExampleDecoder(
      fx.LABEL_IDS, frames_per_clip=4, frame_stride=2)
  out, is_complete = tf.function(example_decoder.decode_with_clip_check)(
      tf.constant(fx.sequence_example(frames, fx.BOXES, fx.LABELS,
                                      keyframe_index=2)))
  # Wanted stored frames -2, 0, 2, 4 -> clamped to 0, 0, 2, 4.
  decoded = out[fields.frames].numpy().astype(int)
  for i, stored in enumerate([0, 0, 2, 4]):
    assert np.abs(decoded[i] - frames[stored]).mean() < 1.5, (i, stored)
  assert out[fields.keyframe_index].numpy() == 2
  assert not is_complete.numpy()


def test_frame_stride_counts_video_frames_whatever_the_records_stride():
  # Stored every 2nd video frame: a reader stride of 4 video frames takes
  # every 2nd stored frame, not every 8th video frame.
  frames = fx.make_frames(7)
  example_decoder = decoder.SequenceExampleDecoder(
      fx.LABEL_IDS, frames_per_clip=3, frame_stride=4)
  out, is_complete = tf.function(example_decoder.decode_with_clip_check)(
      tf.constant(fx.sequence_example(frames, fx.BOXES, fx.LABELS,
                                      keyframe_index=3, frame_stride=2)))
  decoded = out[fields.frames].numpy().astype(int)
  for i, stored in enumerate([1, 3, 5]):
    assert np.abs(decoded[i] - frames[stored]).mean() < 1.5, (i, stored)
  assert is_complete.numpy()


def test_a_record_stride_that_does_not_divide_the_readers_is_refused():
  # Records converted every 5th video frame cannot give a clip of every
  # video frame: both strides are named.
  example_decoder = decoder.SequenceExampleDecoder(
      fx.LABEL_IDS, frames_per_clip=3, frame_stride=1)
  record = fx.sequence_example(fx.make_frames(3), fx.BOXES, fx.LABELS,
                               keyframe_index=1, frame_stride=5)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=r"'clip/frame_stride'.*frame_stride 1.*\n?.*5"):
    example_decoder.decode(tf.constant(record))
  # A one-frame clip (check_records reads boxes and labels so) has no stride.
  one_frame = decoder.SequenceExampleDecoder(fx.LABEL_IDS, frames_per_clip=1)
  out = one_frame.decode(tf.constant(record))
  assert out[fields.frames].shape[0] == 1


def test_missing_flow_with_use_flow_names_the_keys():
  serialized = fx.sequence_example(fx.make_frames(2), fx.BOXES, fx.LABELS)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="use_flow is set but the record lacks the optical "
                     "flow: it needs one 'flow/x/encoded'"):
    _decode(serialized, use_flow=True)


def test_label_outside_the_label_map_is_reported():
  serialized = fx.sequence_example(fx.make_frames(1), fx.BOXES, fx.LABELS)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="'keyframe/bbox/label/id' holds ids that are not "
                     r'in the label map \[1, 2\]'):
    _decode(serialized, label_ids=(1, 2))


def test_missing_keyframe_index_is_reported():
  example = tf.train.SequenceExample.FromString(
      fx.sequence_example(fx.make_frames(1), fx.BOXES, fx.LABELS))
  del example.context.feature[
      standard_fields.SequenceExampleKeys.keyframe_index]
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="record has no .* 'clip/keyframe/index'"):
    _decode(example.SerializeToString())


def test_box_lists_of_different_lengths_are_reported():
  example = tf.train.SequenceExample.FromString(
      fx.sequence_example(fx.make_frames(1), fx.BOXES, fx.LABELS))
  example.context.feature[
      standard_fields.SequenceExampleKeys.box_xmax].float_list.value.pop()
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match="'keyframe/bbox/xmax' must have one value per box"):
    _decode(example.SerializeToString())


@pytest.mark.parametrize('label_ids, message', [
    ((), 'the label map has no ids'), ((1, 2, 2), 'duplicate ids')])
def test_bad_label_ids_are_refused(label_ids, message):
  with pytest.raises(ValueError, match=message):
    decoder.SequenceExampleDecoder(label_ids)
