"""Serving inputs: decoding, resizing and the checks' messages (no model)."""

import re

import numpy as np
import pytest
import tensorflow as tf

from acrn_tf.core import standard_fields as fields
from acrn_tf.export import serving_inputs as si
from tests.data.input import sequence_example_fixtures as sx

_frames = fields.InputDataFields.frames
_flow = fields.InputDataFields.flow


def _spec(input_type, use_flow=False, image_size=(16, 24), frames=4,
          max_image_size=64):
  return si.ServingInputSpec(
      input_type=input_type, frames_per_clip=frames, frame_stride=1,
      image_size=image_size, use_flow=use_flow,
      max_image_size=max_image_size, label_ids=sx.LABEL_IDS)


def _run(spec, *args):
  """model_inputs traced as the exporter traces it, on `args`."""
  fn = tf.function(spec.model_inputs, input_signature=spec.signature(),
                   autograph=False)
  return {k: v.numpy() for k, v in fn(*args).items()}


def _resized_by_hand(frames, size):
  """Bilinear resize, rounded to uint8: what the eval pipeline feeds."""
  resized = tf.image.resize(tf.cast(frames, tf.float32), size).numpy()
  return np.clip(np.round(resized), 0, 255).astype(np.uint8)


def test_video_tensor_is_resized_like_the_eval_pipeline():
  clip = sx.make_frames(4)  # [4, 32, 48, 3]
  out = _run(_spec(si.VIDEO_TENSOR), tf.constant(clip[None]))
  assert list(out) == [_frames]
  assert out[_frames].shape == (1, 4, 16, 24, 3)
  assert out[_frames].dtype == np.uint8
  np.testing.assert_array_equal(out[_frames][0],
                                _resized_by_hand(clip, (16, 24)))


def test_video_tensor_flow_is_resized_and_rescaled():
  clip = sx.make_frames(4)
  flow = np.zeros((1, 4, 32, 48, 2), np.float32)
  flow[..., 0] = 2.0  # x: 2 px per frame at width 48 -> 1 px at width 24
  flow[..., 1] = -4.0  # y: -4 px at height 32 -> -2 px at height 16
  out = _run(_spec(si.VIDEO_TENSOR, use_flow=True), tf.constant(clip[None]),
             tf.constant(flow))
  assert out[_flow].shape == (1, 4, 16, 24, 2)
  np.testing.assert_allclose(out[_flow][..., 0], 1.0, atol=1e-6)
  np.testing.assert_allclose(out[_flow][..., 1], -2.0, atol=1e-6)


def test_encoded_frames_are_decoded_then_resized():
  clip = sx.make_frames(4)
  encoded = [tf.io.encode_png(frame).numpy() for frame in clip]
  out = _run(_spec(si.ENCODED_FRAMES), tf.constant(encoded))
  np.testing.assert_array_equal(out[_frames][0],
                                _resized_by_hand(clip, (16, 24)))


def test_tf_example_clip_is_sampled_around_the_keyframe():
  stored = sx.make_frames(6)
  record = sx.sequence_example(stored, sx.BOXES[:1], sx.LABELS[:1],
                               keyframe_index=3)
  out = _run(_spec(si.TF_EXAMPLE), tf.constant([record]))
  # T = 4 around stored keyframe 3: stored frames 1, 2, 3, 4 (as JPEGs).
  decoded = np.stack([tf.io.decode_jpeg(sx.encode_jpeg(f)).numpy()
                      for f in stored[1:5]])
  np.testing.assert_array_equal(out[_frames][0],
                                _resized_by_hand(decoded, (16, 24)))


def test_tf_example_flow_comes_from_the_record():
  stored = sx.make_frames(4)
  quantised = sx.make_quantised_flow(4)
  record = sx.sequence_example(stored, sx.BOXES[:1], sx.LABELS[:1],
                               keyframe_index=2, quantised_flow=quantised)
  out = _run(_spec(si.TF_EXAMPLE, use_flow=True, image_size=(32, 48)),
             tf.constant([record]))
  assert out[_flow].shape == (1, 4, 32, 48, 2)
  assert np.abs(out[_flow]).max() > 0


@pytest.mark.parametrize('shape, message', [
    ((4, 32, 48, 3), 'input_tensor: expected rank 5, uint8 [1, 4, height, '
     'width, 3]'),
    ((1, 3, 32, 48, 3), 'input_tensor: expected 4 frames'),
    ((1, 4, 32, 80, 3), 'larger than the exported maximum of 64 pixels'),
    ((1, 4, 0, 48, 3), 'frames have no pixels'),
])
def test_video_tensor_checks(shape, message):
  with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape(message)):
    _run(_spec(si.VIDEO_TENSOR), tf.zeros(shape, tf.uint8))


def test_flow_of_another_size_is_refused():
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=re.escape('flow: expected float32 [1, 4, height, '
                                     'width, 2] with the height and width '
                                     'of the frames')):
    _run(_spec(si.VIDEO_TENSOR, use_flow=True),
         tf.zeros((1, 4, 32, 48, 3), tf.uint8),
         tf.zeros((1, 4, 16, 48, 2)))


def test_encoded_frames_checks():
  frame = tf.io.encode_png(sx.make_frames(1)[0]).numpy()
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match='input_tensor: expected 4 encoded frames'):
    _run(_spec(si.ENCODED_FRAMES), tf.constant([frame] * 3))
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match='input_tensor: expected rank 1'):
    _run(_spec(si.ENCODED_FRAMES), tf.constant([[frame] * 4]))


def test_tf_example_needs_one_record():
  record = sx.sequence_example(sx.make_frames(4), sx.BOXES[:1],
                               sx.LABELS[:1], keyframe_index=2)
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match='input_tensor: expected a string \\[1\\]'):
    _run(_spec(si.TF_EXAMPLE), tf.constant([record, record]))


def test_bad_specs_are_refused():
  with pytest.raises(si.ServingInputError, match='cannot compute optical'):
    _spec(si.ENCODED_FRAMES, use_flow=True)
  with pytest.raises(si.ServingInputError, match='expected one of '
                     'video_tensor, encoded_frames, tf_example'):
    _spec('image_tensor')
  with pytest.raises(si.ServingInputError, match='max_image_size \\(8\\)'):
    _spec(si.VIDEO_TENSOR, max_image_size=8)
  with pytest.raises(si.ServingInputError, match='frames_per_clip must be'):
    _spec(si.VIDEO_TENSOR, frames=0)
