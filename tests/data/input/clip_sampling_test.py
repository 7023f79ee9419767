"""Clip sampling around the keyframe, indices worked out by hand."""

import numpy as np
import pytest

from acrn_tf.data.input import clip_sampling


@pytest.mark.parametrize(
    'num_stored, keyframe, frames_per_clip, stride, expected, complete', [
        # Odd length: keyframe at output index 2, offsets -2..2.
        (10, 4, 5, 1, [2, 3, 4, 5, 6], True),
        # Even length: keyframe at output index 2, offsets -2..1.
        (10, 5, 4, 1, [3, 4, 5, 6], True),
        # Stride 2: offsets (-2, -1, 0, 1) * 2.
        (10, 5, 4, 2, [1, 3, 5, 7], True),
        # Clamped at the start: wanted -3, -1, 1, 3, 5.
        (10, 1, 5, 2, [0, 0, 1, 3, 5], False),
        # Clamped at the end: wanted 4, 6, 8, 10.
        (10, 8, 4, 2, [4, 6, 8, 9], False),
        # Clamped at both ends: wanted -1..3 from a 3-frame clip.
        (3, 1, 5, 1, [0, 0, 1, 2, 2], False),
        # A single frame is the keyframe.
        (7, 6, 1, 3, [6], True),
        # Exactly fits: wanted 0..4 in a 5-frame clip.
        (5, 2, 5, 1, [0, 1, 2, 3, 4], True),
    ])
def test_clip_frame_indices(num_stored, keyframe, frames_per_clip, stride,
                            expected, complete):
  indices, is_complete = clip_sampling.clip_frame_indices(
      num_stored, keyframe, frames_per_clip, stride)
  np.testing.assert_array_equal(indices.numpy(), expected)
  assert bool(is_complete.numpy()) is complete


@pytest.mark.parametrize('frames_per_clip, expected', [(1, 0), (4, 2), (5, 2),
                                                       (20, 10)])
def test_sampled_keyframe_index(frames_per_clip, expected):
  assert clip_sampling.sampled_keyframe_index(frames_per_clip) == expected


def test_bad_sizes_are_refused():
  with pytest.raises(ValueError, match='frames_per_clip must be >= 1, got 0'):
    clip_sampling.clip_frame_indices(5, 2, 0, 1)
  with pytest.raises(ValueError, match='frame_stride must be >= 1, got 0'):
    clip_sampling.clip_frame_indices(5, 2, 3, 0)


def test_stored_frame_step_divides_video_strides():
  assert clip_sampling.stored_frame_step(6, 2) == 3
  assert clip_sampling.stored_frame_step(5, 5) == 1
  with pytest.raises(ValueError, match=r'frame_stride 1 \(video frames '
                     r'between clip frames\) is not a multiple of the '
                     r"records' clip/frame_stride 5"):
    clip_sampling.stored_frame_step(1, 5)
