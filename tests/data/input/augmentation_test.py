"""Clip augmentation: flips, crops, scale, photometric jitter, resizing."""

import numpy as np
import pytest
import tensorflow as tf

from acrn_tf.core import standard_fields
from acrn_tf.data.input import augmentation

fields = standard_fields.InputDataFields

BOXES = np.array([[0.1, 0.2, 0.5, 0.4], [0.3, 0.5, 0.9, 0.75]], np.float32)


def _random(shape, seed=0, high=255):
  return np.random.default_rng(seed).uniform(0, high, shape).astype(np.float32)


def _example(num_frames=3, height=12, width=16, with_flow=True):
  """A decoded example: 3 boxes with distinct labels and track ids."""
  example = {
      fields.frames: tf.constant(
          _random((num_frames, height, width, 3)).astype(np.uint8)),
      fields.groundtruth_boxes: tf.constant(
          [[0.0, 0.0, 0.5, 0.5], [0.25, 0.25, 0.75, 0.75],
           [0.5, 0.5, 1.0, 1.0]], tf.float32),
      fields.groundtruth_classes: tf.constant(np.eye(3, 4), tf.float32),
      fields.groundtruth_track_ids: tf.constant([10, 11, 12], tf.int32),
      fields.num_groundtruth_boxes: tf.constant(3),
  }
  if with_flow:
    example[fields.flow] = tf.constant(
        _random((num_frames, height, width, 2), seed=1, high=8) - 4)
  return example


def test_flip_mirrors_boxes_frames_and_negates_flow_x_only():
  frames = _random((2, 4, 6, 3)).astype(np.uint8)
  flow = _random((2, 4, 6, 2), seed=3) - 100
  out_frames, out_boxes, out_flow = augmentation.flip_left_right(
      tf.constant(frames), tf.constant(BOXES), tf.constant(flow))
  # xmin' = 1 - xmax, xmax' = 1 - xmin; y unchanged.
  np.testing.assert_allclose(out_boxes.numpy(),
                             [[0.1, 0.6, 0.5, 0.8], [0.3, 0.25, 0.9, 0.5]],
                             atol=1e-6)
  np.testing.assert_array_equal(out_frames.numpy(), frames[:, :, ::-1])
  np.testing.assert_array_equal(out_flow.numpy()[..., 0],
                                -flow[:, :, ::-1, 0])
  np.testing.assert_array_equal(out_flow.numpy()[..., 1], flow[:, :, ::-1, 1])


def test_random_flip_is_one_draw_for_frames_boxes_and_flow():
  frames = tf.constant(_random((2, 4, 6, 3)))
  flow = tf.constant(_random((2, 4, 6, 2), seed=2))
  outcomes = set()
  for seed in range(8):
    out_frames, out_boxes, out_flow = augmentation.random_horizontal_flip(
        frames, tf.constant(BOXES), tf.constant([seed, 0]), flow)
    flipped = not np.array_equal(out_frames.numpy(), frames.numpy())
    expected = augmentation.flip_left_right(frames, tf.constant(BOXES), flow)
    if flipped:
      np.testing.assert_array_equal(out_frames.numpy(), expected[0].numpy())
      np.testing.assert_allclose(out_boxes.numpy(), expected[1].numpy())
      np.testing.assert_array_equal(out_flow.numpy(), expected[2].numpy())
    else:
      np.testing.assert_allclose(out_boxes.numpy(), BOXES)
      np.testing.assert_array_equal(out_flow.numpy(), flow.numpy())
    outcomes.add(flipped)
  assert outcomes == {True, False}


def test_crop_drops_a_box_with_too_little_area_and_reports_kept_rows():
  frames = _random((2, 10, 20, 3))
  flow = _random((2, 10, 20, 2), seed=5)
  boxes = tf.constant([[0.0, 0.1, 0.5, 0.3],    # inside the left half
                       [0.2, 0.4, 0.6, 0.8],    # 25% of its width inside
                       [0.5, 0.3, 1.0, 0.7]])   # 50% inside
  out_frames, out_boxes, kept, out_flow = augmentation.crop_clip(
      tf.constant(frames), boxes, offset=[0, 0], size=[10, 10],
      min_box_area_fraction=0.3, flow=tf.constant(flow))
  np.testing.assert_array_equal(kept.numpy(), [0, 2])
  # Normalised to the 10 x 10 window: x doubles, y unchanged, clipped to 1.
  np.testing.assert_allclose(out_boxes.numpy(),
                             [[0.0, 0.2, 0.5, 0.6], [0.5, 0.6, 1.0, 1.0]],
                             atol=1e-6)
  np.testing.assert_array_equal(out_frames.numpy(), frames[:, :, :10])
  np.testing.assert_array_equal(out_flow.numpy(), flow[:, :, :10])


def test_crop_with_offset_moves_boxes():
  boxes = tf.constant([[0.5, 0.5, 1.0, 1.0]])
  _, out_boxes, kept, _ = augmentation.crop_clip(
      tf.zeros([1, 8, 8, 3]), boxes, offset=[2, 4], size=[6, 4],
      min_box_area_fraction=0.3)
  # Pixels [4, 4, 8, 8] - offset (2, 4) -> [2, 0, 6, 4] / (6, 4).
  np.testing.assert_allclose(out_boxes.numpy(), [[2 / 6, 0.0, 1.0, 1.0]],
                             atol=1e-6)
  np.testing.assert_array_equal(kept.numpy(), [0])


def test_random_crop_keeps_labels_and_track_ids_aligned():
  example = _example(height=20, width=20)
  options = augmentation.AugmentationOptions(min_crop_area_fraction=0.3,
                                             min_box_area_fraction=0.5)
  sizes = set()
  for seed in range(12):
    out = augmentation.augment_and_resize(example, (20, 20), options,
                                          tf.constant([seed, 7]))
    track_ids = out[fields.groundtruth_track_ids].numpy()
    classes = out[fields.groundtruth_classes].numpy()
    sizes.add(len(track_ids))
    assert out[fields.num_groundtruth_boxes].numpy() == len(track_ids)
    assert out[fields.groundtruth_boxes].shape[0] == len(track_ids)
    for row, track_id in enumerate(track_ids):
      # Box k has track id 10 + k and class column k.
      np.testing.assert_array_equal(classes[row], np.eye(3, 4)[track_id - 10])
  assert min(sizes) < 3  # some crop dropped a box


@pytest.mark.parametrize('seed', range(5))
def test_sample_crop_and_scale_stays_in_the_frame(seed):
  offset, size, resized = augmentation.sample_crop_and_scale(
      tf.constant([seed, 1]), tf.constant([30, 40]), (16, 32),
      min_crop_area_fraction=0.5, min_scale=0.5, max_scale=2.0)
  offset, size, resized = offset.numpy(), size.numpy(), resized.numpy()
  assert np.all(offset >= 0) and np.all(size >= 1)
  assert np.all(offset + size <= [30, 40])
  assert np.all(resized >= 1) and np.all(resized <= [16, 32])


def test_fixed_scales_by_hand():
  seed = tf.constant([3, 4])
  # Scale 2: the window is half the frame; resized to the output size.
  _, size, resized = augmentation.sample_crop_and_scale(
      seed, tf.constant([30, 40]), (16, 32), min_scale=2.0, max_scale=2.0)
  np.testing.assert_array_equal(size.numpy(), [15, 20])
  np.testing.assert_array_equal(resized.numpy(), [16, 32])
  # Scale 0.5: the whole frame, resized to half the output size.
  offset, size, resized = augmentation.sample_crop_and_scale(
      seed, tf.constant([30, 40]), (16, 32), min_scale=0.5, max_scale=0.5)
  np.testing.assert_array_equal(offset.numpy(), [0, 0])
  np.testing.assert_array_equal(size.numpy(), [30, 40])
  np.testing.assert_array_equal(resized.numpy(), [8, 16])
  # Crop area fraction: about half the area kept.
  _, size, _ = augmentation.sample_crop_and_scale(
      seed, tf.constant([100, 100]), (16, 16), min_crop_area_fraction=0.5)
  assert 0.5 * 100 * 100 * 0.97 <= np.prod(size.numpy()) <= 100 * 100


def test_resize_rescales_the_flow_values():
  flow = tf.concat([tf.fill([1, 10, 20, 1], 2.0), tf.fill([1, 10, 20, 1], 3.0)],
                   axis=-1)
  frames, out_flow = augmentation.resize_clip(tf.zeros([1, 10, 20, 3]),
                                              [20, 10], flow)
  assert frames.shape == (1, 20, 10, 3)
  # x: width 20 -> 10 halves it; y: height 10 -> 20 doubles it.
  np.testing.assert_allclose(out_flow.numpy()[..., 0], 1.0)
  np.testing.assert_allclose(out_flow.numpy()[..., 1], 6.0)


def test_scale_below_one_pads_bottom_right_and_scales_boxes():
  example = _example(height=12, width=16)
  options = augmentation.AugmentationOptions(min_scale=0.5, max_scale=0.5)
  out = augmentation.augment_and_resize(example, (12, 16), options,
                                        tf.constant([0, 0]))
  np.testing.assert_array_equal(out[fields.true_image_shape].numpy(),
                                [6, 8, 3])
  frames = out[fields.frames].numpy()
  assert frames.shape == (3, 12, 16, 3)
  assert not frames[:, 6:].any() and not frames[:, :, 8:].any()
  assert not out[fields.flow].numpy()[:, 6:].any()
  np.testing.assert_allclose(out[fields.groundtruth_boxes].numpy(),
                             example[fields.groundtruth_boxes].numpy() / 2)


_PHOTOMETRIC = augmentation.AugmentationOptions(
    max_brightness_delta=0.2, max_contrast_delta=0.4,
    max_saturation_delta=0.4, max_hue_delta=0.1)


def test_photometric_jitter_is_the_same_change_on_every_frame():
  first, second = _random((2, 8, 8, 3), seed=9, high=1.0)
  kwargs = dict(max_brightness_delta=0.2, max_contrast_delta=0.4,
                max_saturation_delta=0.4, max_hue_delta=0.1)
  seed = tf.constant([5, 6])
  forward = augmentation.photometric_jitter(
      tf.constant(np.stack([first, second, first])), seed, **kwargs).numpy()
  backward = augmentation.photometric_jitter(
      tf.constant(np.stack([second, first, first])), seed, **kwargs).numpy()
  assert np.abs(forward[0] - first).max() > 0.01  # it did change something
  # Equal frames stay equal; reordering the frames reorders the output.
  np.testing.assert_allclose(forward[0], forward[2], atol=1e-6)
  np.testing.assert_allclose(forward[0], backward[1], atol=1e-5)
  np.testing.assert_allclose(forward[1], backward[0], atol=1e-5)


def test_photometric_jitter_maps_equal_pixels_of_different_frames_equally():
  first = _random((8, 8, 3), seed=11, high=1.0)
  second = first.copy()
  second[4:] = 1.0 - second[4:]  # half of the frame differs
  out = augmentation.photometric_jitter(
      tf.constant(np.stack([first, second])), tf.constant([2, 9]),
      max_contrast_delta=0.5, max_brightness_delta=0.1).numpy()
  # One mapping for the clip: a per-frame contrast mean would break this.
  np.testing.assert_allclose(out[0, :4], out[1, :4], atol=1e-6)
  assert np.abs(out[0, :4] - first[:4]).max() > 0.01


def test_photometric_jitter_leaves_the_flow_untouched():
  example = _example()
  out = augmentation.augment_and_resize(example, (12, 16), _PHOTOMETRIC,
                                        tf.constant([1, 2]))
  np.testing.assert_array_equal(out[fields.flow].numpy(),
                                example[fields.flow].numpy())
  assert not np.array_equal(out[fields.frames].numpy(),
                            example[fields.frames].numpy())


def test_augmentation_is_deterministic_given_the_seed():
  options = augmentation.AugmentationOptions(
      random_horizontal_flip=True, min_scale=0.8, max_scale=1.5,
      min_crop_area_fraction=0.5, max_brightness_delta=0.2,
      max_hue_delta=0.05)
  example = _example(height=24, width=32)

  def run(seed):
    return augmentation.augment_and_resize(example, (16, 16), options,
                                           tf.constant(seed))

  first, again, other = run([1, 2]), run([1, 2]), run([1, 3])
  for key in first:
    np.testing.assert_array_equal(first[key].numpy(), again[key].numpy())
  assert not np.array_equal(first[fields.frames].numpy(),
                            other[fields.frames].numpy())


def test_resize_only_without_options():
  example = _example(height=24, width=32)
  out = augmentation.augment_and_resize(example, (12, 16))
  assert out[fields.frames].dtype == tf.uint8
  assert out[fields.frames].shape == (3, 12, 16, 3)
  np.testing.assert_array_equal(out[fields.true_image_shape].numpy(),
                                [12, 16, 3])
  np.testing.assert_allclose(out[fields.groundtruth_boxes].numpy(),
                             example[fields.groundtruth_boxes].numpy())
  # Halving the size halves the flow's pixel displacements.
  resized = tf.image.resize(example[fields.flow], [12, 16]).numpy() / 2
  np.testing.assert_allclose(out[fields.flow].numpy(), resized, atol=1e-5)


def test_options_need_a_seed():
  with pytest.raises(ValueError, match='a seed is needed'):
    augmentation.augment_and_resize(_example(), (12, 16), _PHOTOMETRIC)
