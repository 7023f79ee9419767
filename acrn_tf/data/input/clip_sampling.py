"""Which stored frames make up the clip fed to the model.

A record stores a clip of ``num_frames`` frames with its keyframe at
``keyframe_index``, one stored frame every ``clip/frame_stride`` video
frames. The input reader's clip is ``frames_per_clip`` frames every
``frame_stride`` video frames (the one clip definition that training,
export and inference share), so it takes every
``frame_stride / clip/frame_stride``-th stored frame (`stored_frame_step`),
with the keyframe at index
``frames_per_clip // 2`` of the sampled clip (the converters' convention).
Indices falling outside the stored clip are clamped to its first or last
frame; the caller may instead drop such clips (``drop_short_clips``).
"""

from typing import Tuple

import tensorflow as tf


def sampled_keyframe_index(frames_per_clip: int) -> int:
  """Returns the keyframe's index in a sampled clip of `frames_per_clip`."""
  if frames_per_clip < 1:
    raise ValueError(f'frames_per_clip must be >= 1, got {frames_per_clip}')
  return frames_per_clip // 2


def stored_frame_step(frame_stride: int, stored_frame_stride: int) -> int:
  """Stored frames between two clip frames.

  Args:
    frame_stride: video frames between two clip frames (the input reader's).
    stored_frame_stride: video frames between two stored frames (the
      records' ``clip/frame_stride``).

  Raises:
    ValueError: naming both values when the stored frames do not hold
      every frame_stride-th video frame.
  """
  if stored_frame_stride < 1 or frame_stride % stored_frame_stride:
    raise ValueError(
        f'frame_stride {frame_stride} (video frames between clip frames) is '
        f'not a multiple of the records\' clip/frame_stride '
        f'{stored_frame_stride} (video frames between stored frames)')
  return frame_stride // stored_frame_stride


def clip_frame_indices(num_stored_frames: tf.Tensor,
                       keyframe_index: tf.Tensor,
                       frames_per_clip: int,
                       frame_stride=1) -> Tuple[tf.Tensor, tf.Tensor]:
  """Returns the stored-frame indices of the clip centred on the keyframe.

  Output frame ``i`` is stored frame
  ``keyframe_index + (i - frames_per_clip // 2) * frame_stride``, clamped to
  ``[0, num_stored_frames - 1]``.

  Args:
    num_stored_frames: int scalar tensor, frames stored in the record (>= 1).
    keyframe_index: int scalar tensor, the keyframe's index in the stored clip.
    frames_per_clip: number of frames to sample (>= 1).
    frame_stride: stored frames between two sampled frames (>= 1), an int
      or an int scalar tensor (see `stored_frame_step`).

  Returns:
    indices: int32 ``[frames_per_clip]``, indices into the stored frames.
    is_complete: bool scalar, true when no index had to be clamped (the stored
      clip holds every requested frame).

  Raises:
    ValueError: if `frames_per_clip` or `frame_stride` is below 1.
  """
  if frames_per_clip < 1:
    raise ValueError(f'frames_per_clip must be >= 1, got {frames_per_clip}')
  if isinstance(frame_stride, int) and frame_stride < 1:
    raise ValueError(f'frame_stride must be >= 1, got {frame_stride}')
  frame_stride = tf.cast(frame_stride, tf.int32)
  num_stored_frames = tf.cast(num_stored_frames, tf.int32)
  keyframe_index = tf.cast(keyframe_index, tf.int32)
  offsets = (tf.range(frames_per_clip, dtype=tf.int32) -
             sampled_keyframe_index(frames_per_clip)) * frame_stride
  wanted = keyframe_index + offsets
  indices = tf.clip_by_value(wanted, 0, num_stored_frames - 1)
  is_complete = tf.reduce_all(tf.equal(indices, wanted))
  return indices, is_complete
