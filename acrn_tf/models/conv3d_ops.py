"""3D convolution and max pooling computed with 2D kernels, for speed on CPU.

TensorFlow's CPU kernels for `Conv3D`'s gradients and for `MaxPool3DGrad`
are far slower than the 2D ones oneDNN provides: on a 2-core machine the
filter gradient of S3D-G's first [3, 7, 7] stride-2 convolution on an
8 x 64 x 64 clip takes over a second, the same convolution written as a 2D
one about a hundredth of that. Model Garden has no such layer, so these
ops rewrite the 3D ones exactly (same SAME padding, same results):

  * a [k_t, k_h, k_w] convolution with time stride s_t stacks the k_t
    time-shifted (and s_t-strided) copies of the clip along channels and
    runs one 2D convolution over every output frame with the kernel
    reshaped to [k_h, k_w, k_t * c_in, c_out];
  * a max pool is separable: a 2D pool over every frame, then a pool along
    time (a 2D pool with a [k_t, 1] window over [batch, t, h * w, c]).

`Conv3D` and `MaxPool3D` below are drop-in `tf_keras` layers with the same
variables and configs as the Keras ones, so checkpoints are unchanged.
"""

from typing import Sequence, Tuple

import tensorflow as tf
import tf_keras


def same_padding(size: int, kernel: int, stride: int) -> Tuple[int, int]:
  """TensorFlow's SAME padding (before, after) of one dimension."""
  output = -(-size // stride)
  total = max((output - 1) * stride + kernel - size, 0)
  return total // 2, total - total // 2


def _static_dims(inputs: tf.Tensor, name: str):
  shape = inputs.shape
  if shape.rank != 5 or any(d is None for d in shape[1:]):
    raise ValueError(f'{name}: needs [batch, t, h, w, c] with static t, h, w '
                     f'and c, got shape {shape}.')
  return [int(d) for d in shape[1:]]


def conv3d_same(inputs: tf.Tensor, kernel: tf.Tensor,
                strides: Sequence[int]) -> tf.Tensor:
  """Equals `tf.nn.conv3d(inputs, kernel, [1, *strides, 1], 'SAME')`.

  Args:
    inputs: float [batch, t, h, w, c_in] with static t, h, w, c_in.
    kernel: float [k_t, k_h, k_w, c_in, c_out].
    strides: (s_t, s_h, s_w).

  Returns:
    float [batch, ceil(t / s_t), ceil(h / s_h), ceil(w / s_w), c_out].
  """
  num_frames, height, width, channels = _static_dims(inputs, 'conv3d_same')
  k_t, k_h, k_w, c_in, c_out = kernel.shape.as_list()
  if c_in != channels:
    raise ValueError(f'conv3d_same: kernel {kernel.shape} does not take '
                     f'{channels} input channels.')
  s_t, s_h, s_w = strides
  batch_size = tf.shape(inputs)[0]
  output_frames = -(-num_frames // s_t)
  if k_t == 1 and s_t == 1:
    stacked = inputs
  else:
    before, after = same_padding(num_frames, k_t, s_t)
    padded = tf.pad(inputs, [[0, 0], [before, after], [0, 0], [0, 0], [0, 0]])
    limit = (output_frames - 1) * s_t + 1
    stacked = tf.concat(
        [padded[:, dt:dt + limit:s_t] for dt in range(k_t)], axis=-1)
  flat = tf.reshape(stacked, [-1, height, width, k_t * c_in])
  kernel_2d = tf.reshape(tf.transpose(kernel, [1, 2, 0, 3, 4]),
                         [k_h, k_w, k_t * c_in, c_out])
  outputs = tf.nn.conv2d(flat, kernel_2d, [1, s_h, s_w, 1], 'SAME')
  out_shape = outputs.shape.as_list()[1:]
  return tf.reshape(outputs, [batch_size, output_frames] + out_shape)


def max_pool3d_same(inputs: tf.Tensor, pool_size: Sequence[int],
                    strides: Sequence[int]) -> tf.Tensor:
  """Equals `tf.nn.max_pool3d(inputs, [1, *pool_size, 1], [1, *strides, 1],
  'SAME')`, as a spatial then a temporal 2D max pool."""
  num_frames, height, width, channels = _static_dims(inputs,
                                                     'max_pool3d_same')
  k_t, k_h, k_w = pool_size
  s_t, s_h, s_w = strides
  batch_size = tf.shape(inputs)[0]
  net = tf.reshape(inputs, [-1, height, width, channels])
  if (k_h, k_w, s_h, s_w) != (1, 1, 1, 1):
    net = tf.nn.max_pool2d(net, [k_h, k_w], [s_h, s_w], 'SAME')
  out_height, out_width = net.shape.as_list()[1:3]
  net = tf.reshape(net, [batch_size, num_frames, out_height * out_width,
                         channels])
  if (k_t, s_t) != (1, 1):
    net = tf.nn.max_pool2d(net, [k_t, 1], [s_t, 1], 'SAME')
  return tf.reshape(net, [batch_size, -(-num_frames // s_t), out_height,
                          out_width, channels])


@tf_keras.utils.register_keras_serializable(package='acrn_tf')
class Conv3D(tf_keras.layers.Conv3D):
  """`tf_keras.layers.Conv3D` computed by `conv3d_same` (SAME padding only)."""

  def __init__(self, *args, **kwargs):
    super().__init__(*args, **kwargs)
    if self.padding != 'same' or tuple(self.dilation_rate) != (1, 1, 1):
      raise ValueError(f'{self.name}: only SAME padding without dilation is '
                       f'supported, got padding={self.padding!r} '
                       f'dilation_rate={self.dilation_rate}.')
    if self.data_format != 'channels_last' or self.groups != 1:
      raise ValueError(f'{self.name}: only channels_last without groups is '
                       'supported.')

  def convolution_op(self, inputs, kernel):
    return conv3d_same(inputs, kernel, self.strides)


@tf_keras.utils.register_keras_serializable(package='acrn_tf')
class MaxPool3D(tf_keras.layers.MaxPool3D):
  """`tf_keras.layers.MaxPool3D` computed by `max_pool3d_same` (SAME only)."""

  def __init__(self, *args, **kwargs):
    super().__init__(*args, **kwargs)
    if self.padding != 'same' or self.data_format != 'channels_last':
      raise ValueError(f'{self.name}: only SAME padding, channels_last is '
                       f'supported, got padding={self.padding!r}.')

  def call(self, inputs):
    return max_pool3d_same(inputs, self.pool_size, self.strides)
