"""optical_flow: DIS flow on a known shift, quantisation and storage."""

import cv2
import numpy as np
import pytest

from acrn_tf.data.conversion import optical_flow


def _texture(height=64, width=80, seed=0):
  """A smooth random RGB texture, rich enough for optical flow."""
  noise = np.random.default_rng(seed).uniform(0, 255, (height, width))
  gray = cv2.GaussianBlur(noise, (0, 0), 2.0)
  gray = (gray - gray.min()) / (gray.max() - gray.min()) * 255
  return np.repeat(gray[..., None], 3, axis=2).astype(np.uint8)


def _shifted(image, dx, dy):
  matrix = np.float32([[1, 0, dx], [0, 1, dy]])
  return cv2.warpAffine(image, matrix, image.shape[1::-1],
                        borderMode=cv2.BORDER_REFLECT)


@pytest.mark.parametrize('preset', optical_flow.PRESETS)
def test_translating_pattern_gives_the_shift(preset):
  first = _texture()
  frames = [first, _shifted(first, 3, -2), _shifted(first, 6, -4)]
  estimator = optical_flow.FlowEstimator(preset)
  assert estimator.method == 'dis'
  flow = optical_flow.clip_flow(frames, estimator)
  assert flow.shape == (3, 64, 80, 2) and flow.dtype == np.float32
  interior = flow[:, 12:-12, 12:-12]
  np.testing.assert_allclose(np.median(interior[..., 0], axis=(1, 2)),
                             [3, 3, 3], atol=0.3)
  np.testing.assert_allclose(np.median(interior[..., 1], axis=(1, 2)),
                             [-2, -2, -2], atol=0.3)
  # The last frame repeats the previous frame's flow.
  np.testing.assert_array_equal(flow[2], flow[1])


def test_single_frame_clip_has_zero_flow():
  flow = optical_flow.clip_flow([_texture()])
  np.testing.assert_array_equal(flow, np.zeros((1, 64, 80, 2)))


def test_unknown_preset():
  with pytest.raises(ValueError, match='flow preset must be one of'):
    optical_flow.FlowEstimator('slow')


def test_quantisation_by_hand():
  flow = np.array([-25.0, -20.0, 0.0, 20.0 / 255, 10.0, 20.0, 30.0])
  levels = optical_flow.quantise_flow(flow, bound=20.0)
  # level = round((flow + 20) * 255 / 40).
  np.testing.assert_array_equal(levels, [0, 0, 128, 128, 191, 255, 255])
  assert levels.dtype == np.uint8
  np.testing.assert_allclose(
      optical_flow.dequantise_flow(np.array([0, 255, 51]), bound=20.0),
      [-20.0, 20.0, -12.0], atol=1e-5)


def test_quantise_dequantise_round_trip_within_a_step():
  bound = 8.0
  flow = np.random.default_rng(1).uniform(-bound, bound, (3, 10, 12, 2))
  restored = optical_flow.dequantise_flow(
      optical_flow.quantise_flow(flow, bound), bound)
  step = 2 * bound / 255
  assert np.abs(restored - flow).max() <= step / 2 + 1e-6


def test_stored_jpegs_round_trip():
  bound = 20.0
  ys, xs = np.mgrid[0:32, 0:48]
  flow = np.stack([xs / 47.0 * 10 - 5, ys / 31.0 * 6 - 3], axis=-1)
  flow = np.stack([flow, -flow]).astype(np.float32)
  x_jpegs, y_jpegs = optical_flow.encode_flow(
      optical_flow.quantise_flow(flow, bound), quality=95)
  assert len(x_jpegs) == len(y_jpegs) == 2
  decoded = optical_flow.decode_flow(x_jpegs, y_jpegs, bound)
  assert decoded.shape == (2, 32, 48, 2)
  # JPEG of a smooth ramp adds at most about a quantisation step.
  assert np.abs(decoded - flow).max() <= 2 * (2 * bound / 255)
