"""Building blocks of S3D-G: conv units, self-gating and the 3D Inception block.

Every layer here knows the TF-slim names of its variables (relative to its own
scope) through ``slim_variables()``, so a Kinetics-pretrained slim S3D-G
checkpoint maps onto it without guessing. Keras layer names are the slim scope
names, so a Keras variable name reads as its slim name with ``kernel`` for
``weights`` and ``bias`` for ``biases`` (``conv3d/kernel`` is the unit's
``weights``).

Model Garden has a ``SelfGating`` layer (``official.vision.modeling.layers.
nn_blocks_3d``), but it adds a bias and no weight decay, unlike slim's
``transformer_W``; slim checkpoints would leave that bias unrestored, so the
layer is written here.
"""

import collections
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tf_keras

from acrn_tf.models import conv3d_ops

# Slim initialises conv kernels with a truncated normal of stddev 0.01.
_KERNEL_STDDEV = 0.01


def _triple(value, field: str) -> Tuple[int, int, int]:
  """Returns `value` as a 3-tuple of ints (an int is repeated)."""
  if isinstance(value, int):
    return (value, value, value)
  value = tuple(int(v) for v in value)
  if len(value) != 3:
    raise ValueError(f'{field} must be an int or 3 ints [time, height, width],'
                     f' got {value}.')
  return value


def l2_regularizer(weight_decay: float) -> Optional[tf_keras.regularizers.L2]:
  """Slim's `l2_regularizer(weight_decay)`: weight_decay * sum(w ** 2) / 2.

  Args:
    weight_decay: the slim weight decay; 0 or less disables the regulariser.

  Returns:
    A Keras L2 regulariser of factor `weight_decay / 2`, or None.
  """
  if weight_decay <= 0:
    return None
  return tf_keras.regularizers.L2(weight_decay / 2.0)


@tf_keras.utils.register_keras_serializable(package='acrn_tf')
class FrozenBatchNormalization(tf_keras.layers.BatchNormalization):
  """Batch norm that always normalises with its moving statistics.

  The moving mean and variance are never updated, whatever `training` says
  (paper 4.1 disables batch-norm updates); beta (and gamma) stay trainable.
  Keras' `trainable = False` would also freeze beta, so it does not fit.
  """

  def call(self, inputs, training=None):
    del training
    return super().call(inputs, training=False)


@tf_keras.utils.register_keras_serializable(package='acrn_tf')
class TemporalCenterInitializer(tf_keras.initializers.Initializer):
  """Identity at the centre frame of a [t, 1, 1, c, c] kernel, zero elsewhere.

  Slim's `i3d_utils.center_initializer`: a separable conv's temporal part
  starts as the identity, so the spatial part's pretrained 2D response passes
  through unchanged.
  """

  def __call__(self, shape, dtype=None, **kwargs):
    shape = list(shape)
    if len(shape) != 5 or shape[1] != 1 or shape[2] != 1:
      raise ValueError(f'TemporalCenterInitializer needs a [t, 1, 1, c, c] '
                       f'kernel, got {shape}.')
    if shape[3] != shape[4] or shape[0] % 2 == 0:
      raise ValueError(f'TemporalCenterInitializer needs an odd t and equal '
                       f'input/output channels, got {shape}.')
    value = np.zeros(shape, np.float32)
    value[shape[0] // 2, 0, 0] = np.eye(shape[3], dtype=np.float32)
    return tf.constant(value, dtype=dtype or tf.float32)

  def get_config(self):
    return {}


def _kernel_initializer():
  return tf_keras.initializers.TruncatedNormal(mean=0.0, stddev=_KERNEL_STDDEV)


@tf_keras.utils.register_keras_serializable(package='acrn_tf')
class SelfGating(tf_keras.layers.Layer):
  """S3D-G feature gating: x * sigmoid(W mean_{t,h,w}(x)).

  The mean runs over every frame and pixel, W is a bias-free [1, 1, 1, c, c]
  kernel (slim's `self_gating/transformer_W/weights`). Slim pools with a
  [t, w, h] window, which equals this global mean for square maps; this layer
  takes the global mean for any height and width.
  """

  def __init__(self, weight_decay: float = 0.0, **kwargs):
    """Initialises the gate.

    Args:
      weight_decay: slim weight decay of W (see `l2_regularizer`).
      **kwargs: keyword arguments of `tf_keras.layers.Layer`.
    """
    super().__init__(**kwargs)
    self._config_dict = {'weight_decay': weight_decay}
    self._transformer = None

  def build(self, input_shape):
    channels = tf.TensorShape(input_shape)[-1]
    if channels is None:
      raise ValueError(f'{self.name}: the channel dimension must be known, got '
                       f'input shape {input_shape}.')
    self._transformer = tf_keras.layers.Conv3D(
        filters=int(channels), kernel_size=(1, 1, 1), use_bias=False,
        kernel_initializer=_kernel_initializer(),
        kernel_regularizer=l2_regularizer(self._config_dict['weight_decay']),
        name='transformer_W')
    super().build(input_shape)

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    """Gates `inputs` [batch, t, h, w, c]; returns the same shape."""
    average = tf.reduce_mean(inputs, axis=[1, 2, 3], keepdims=True)
    gates = tf.sigmoid(self._transformer(average))
    return inputs * gates

  def slim_variables(self) -> Dict[str, tf.Variable]:
    """Slim name (relative to the gated unit) -> variable."""
    return {'self_gating/transformer_W/weights': self._transformer.kernel}

  def get_config(self) -> Mapping[str, Any]:
    return {**super().get_config(), **self._config_dict}


@tf_keras.utils.register_keras_serializable(package='acrn_tf')
class ConvUnit3D(tf_keras.layers.Layer):
  """A slim S3D-G conv unit: conv, batch norm, ReLU, optional self-gating.

  With `separable=True` and a temporal kernel size above 1 the [k_t, k, k]
  convolution is split as slim's `conv3d_spatiotemporal` does: a [1, k, k]
  conv + batch norm + ReLU, then a [k_t, 1, 1] conv with a bias and ReLU (no
  batch norm, kernel initialised to the identity at the centre frame). With
  a temporal kernel size of 1 it is a 2D conv written as [1, k, k]. Convs
  are SAME padded and have no bias when batch norm follows; batch norm has a
  beta and no gamma, as slim's default. Gating, when on, comes last.
  """

  def __init__(self,
               filters: int,
               kernel_size: Sequence[int] = (1, 1, 1),
               strides: Sequence[int] = (1, 1, 1),
               separable: bool = True,
               use_gating: bool = False,
               weight_decay: float = 0.0,
               batch_norm_decay: float = 0.999,
               batch_norm_epsilon: float = 0.001,
               use_frozen_batch_norm: bool = False,
               **kwargs):
    """Initialises the unit.

    Args:
      filters: output channels.
      kernel_size: [time, height, width] kernel (or one int).
      strides: [time, height, width] strides (or one int).
      separable: split a kernel with time size > 1 into spatial + temporal.
      use_gating: apply `SelfGating` to the output.
      weight_decay: slim weight decay of the kernels (see `l2_regularizer`).
      batch_norm_decay: momentum of the moving statistics.
      batch_norm_epsilon: added to the variance.
      use_frozen_batch_norm: normalise with moving statistics even in
        training and never update them.
      **kwargs: keyword arguments of `tf_keras.layers.Layer` (name = the slim
        scope, e.g. 'Conv2d_0b_3x3').
    """
    super().__init__(**kwargs)
    kernel_size = _triple(kernel_size, 'kernel_size')
    strides = _triple(strides, 'strides')
    if filters < 1:
      raise ValueError(f'{self.name}: filters must be >= 1, got {filters}.')
    self._config_dict = {
        'filters': filters, 'kernel_size': kernel_size, 'strides': strides,
        'separable': separable, 'use_gating': use_gating,
        'weight_decay': weight_decay, 'batch_norm_decay': batch_norm_decay,
        'batch_norm_epsilon': batch_norm_epsilon,
        'use_frozen_batch_norm': use_frozen_batch_norm,
    }
    split = separable and kernel_size[0] > 1
    regularizer = l2_regularizer(weight_decay)
    first_kernel = (1,) + kernel_size[1:] if split else kernel_size
    first_strides = (1,) + strides[1:] if split else strides
    self._conv = conv3d_ops.Conv3D(
        filters, first_kernel, strides=first_strides, padding='same',
        use_bias=False, kernel_initializer=_kernel_initializer(),
        kernel_regularizer=regularizer, name='conv3d')
    norm_class = (FrozenBatchNormalization if use_frozen_batch_norm
                  else tf_keras.layers.BatchNormalization)
    self._norm = norm_class(
        axis=-1, momentum=batch_norm_decay, epsilon=batch_norm_epsilon,
        center=True, scale=False, name='BatchNorm')
    self._temporal = None
    if split:
      self._temporal = conv3d_ops.Conv3D(
          filters, (kernel_size[0], 1, 1), strides=(strides[0], 1, 1),
          padding='same', use_bias=True,
          kernel_initializer=TemporalCenterInitializer(),
          bias_initializer='zeros', kernel_regularizer=regularizer,
          name='temporal')
    self._gating = (SelfGating(weight_decay=weight_decay, name='self_gating')
                    if use_gating else None)

  @property
  def is_split(self) -> bool:
    """True when the unit runs as a spatial then a temporal conv."""
    return self._temporal is not None

  @property
  def conv_kernel_sizes(self) -> Tuple[Tuple[int, int, int], ...]:
    """The [t, h, w] kernel of each conv of the unit, in order."""
    sizes = [tuple(self._conv.kernel_size)]
    if self._temporal is not None:
      sizes.append(tuple(self._temporal.kernel_size))
    return tuple(sizes)

  @property
  def uses_gating(self) -> bool:
    return self._gating is not None

  def call(self, inputs: tf.Tensor, training=None) -> tf.Tensor:
    """Runs the unit: [batch, t, h, w, c_in] -> [batch, t', h', w', filters]."""
    net = tf.nn.relu(self._norm(self._conv(inputs), training=training))
    if self._temporal is not None:
      net = tf.nn.relu(self._temporal(net))
    if self._gating is not None:
      net = self._gating(net)
    return net

  def slim_variables(self) -> Dict[str, tf.Variable]:
    """Slim name (relative to the unit's scope) -> variable (after build)."""
    if not self._conv.built:
      raise ValueError(f'{self.name} is not built: call the model once first.')
    names = {
        'weights': self._conv.kernel,
        'BatchNorm/beta': self._norm.beta,
        'BatchNorm/moving_mean': self._norm.moving_mean,
        'BatchNorm/moving_variance': self._norm.moving_variance,
    }
    if self._temporal is not None:
      names['temporal/weights'] = self._temporal.kernel
      names['temporal/biases'] = self._temporal.bias
    if self._gating is not None:
      names.update(self._gating.slim_variables())
    return names

  def get_config(self) -> Mapping[str, Any]:
    return {**super().get_config(), **self._config_dict}


# Branch widths of one Inception block: Branch_0/Conv2d_0a_1x1,
# Branch_1/Conv2d_0a_1x1, Branch_1/Conv2d_0b_3x3, Branch_2/Conv2d_0a_1x1,
# Branch_2/Conv2d_0b_3x3, Branch_3/Conv2d_0b_1x1.
BranchFilters = collections.namedtuple(
    'BranchFilters', ['b0_0a', 'b1_0a', 'b1_0b', 'b2_0a', 'b2_0b', 'b3_0b'])


@tf_keras.utils.register_keras_serializable(package='acrn_tf')
class InceptionBlock3D(tf_keras.layers.Layer):
  """The S3D-G Inception block (slim `i3d_utils.inception_block_v1_3d`).

  Four branches concatenated on channels: a 1x1x1 conv; 1x1x1 then a
  (separable) [t, 3, 3] conv; the same with other widths; a 3x3x3 max pool
  (stride 1, SAME) then a 1x1x1 conv. With gating on, each branch's last
  unit is gated.
  """

  def __init__(self,
               branch_filters: Sequence[int],
               temporal_kernel_size: int = 3,
               use_gating: bool = True,
               weight_decay: float = 0.0,
               batch_norm_decay: float = 0.999,
               batch_norm_epsilon: float = 0.001,
               use_frozen_batch_norm: bool = False,
               **kwargs):
    """Initialises the block.

    Args:
      branch_filters: 6 ints, see `BranchFilters`.
      temporal_kernel_size: time size of the two [t, 3, 3] convs (1 = 2D).
      use_gating: gate each branch's output.
      weight_decay: see `ConvUnit3D`.
      batch_norm_decay: see `ConvUnit3D`.
      batch_norm_epsilon: see `ConvUnit3D`.
      use_frozen_batch_norm: see `ConvUnit3D`.
      **kwargs: keyword arguments of `tf_keras.layers.Layer` (name = the
        endpoint, e.g. 'Mixed_4b').
    """
    super().__init__(**kwargs)
    branch_filters = tuple(int(f) for f in branch_filters)
    if len(branch_filters) != 6:
      raise ValueError(f'{self.name}: branch_filters needs 6 ints, got '
                       f'{branch_filters}.')
    self._config_dict = {
        'branch_filters': branch_filters,
        'temporal_kernel_size': temporal_kernel_size,
        'use_gating': use_gating, 'weight_decay': weight_decay,
        'batch_norm_decay': batch_norm_decay,
        'batch_norm_epsilon': batch_norm_epsilon,
        'use_frozen_batch_norm': use_frozen_batch_norm,
    }
    filters = BranchFilters(*branch_filters)
    common = dict(weight_decay=weight_decay, batch_norm_decay=batch_norm_decay,
                  batch_norm_epsilon=batch_norm_epsilon,
                  use_frozen_batch_norm=use_frozen_batch_norm)
    spatiotemporal = (temporal_kernel_size, 3, 3)

    def unit(name, width, kernel=(1, 1, 1), gated=False):
      return ConvUnit3D(width, kernel, use_gating=gated and use_gating,
                        name=name, **common)

    self._units = {
        'Branch_0/Conv2d_0a_1x1': unit('Branch_0/Conv2d_0a_1x1',
                                       filters.b0_0a, gated=True),
        'Branch_1/Conv2d_0a_1x1': unit('Branch_1/Conv2d_0a_1x1',
                                       filters.b1_0a),
        'Branch_1/Conv2d_0b_3x3': unit('Branch_1/Conv2d_0b_3x3',
                                       filters.b1_0b, spatiotemporal, True),
        'Branch_2/Conv2d_0a_1x1': unit('Branch_2/Conv2d_0a_1x1',
                                       filters.b2_0a),
        'Branch_2/Conv2d_0b_3x3': unit('Branch_2/Conv2d_0b_3x3',
                                       filters.b2_0b, spatiotemporal, True),
        'Branch_3/Conv2d_0b_1x1': unit('Branch_3/Conv2d_0b_1x1',
                                       filters.b3_0b, gated=True),
    }
    self._pool = conv3d_ops.MaxPool3D(
        (3, 3, 3), strides=(1, 1, 1), padding='same',
        name='Branch_3/MaxPool_0a_3x3')

  @property
  def units(self) -> Mapping[str, ConvUnit3D]:
    """Slim relative scope ('Branch_1/Conv2d_0b_3x3') -> unit."""
    return dict(self._units)

  def call(self, inputs: tf.Tensor, training=None) -> tf.Tensor:
    """Runs the block: [batch, t, h, w, c_in] -> [batch, t, h, w, c_out].

    c_out is the sum of the four branches' output widths.
    """
    u = self._units
    branch_0 = u['Branch_0/Conv2d_0a_1x1'](inputs, training=training)
    branch_1 = u['Branch_1/Conv2d_0b_3x3'](
        u['Branch_1/Conv2d_0a_1x1'](inputs, training=training),
        training=training)
    branch_2 = u['Branch_2/Conv2d_0b_3x3'](
        u['Branch_2/Conv2d_0a_1x1'](inputs, training=training),
        training=training)
    branch_3 = u['Branch_3/Conv2d_0b_1x1'](self._pool(inputs),
                                          training=training)
    return tf.concat([branch_0, branch_1, branch_2, branch_3], axis=-1)

  def slim_variables(self) -> Dict[str, tf.Variable]:
    """Slim name (relative to the block's scope) -> variable (after build)."""
    names = {}
    for scope, unit in self._units.items():
      for name, variable in unit.slim_variables().items():
        names[f'{scope}/{name}'] = variable
    return names

  def get_config(self) -> Mapping[str, Any]:
    return {**super().get_config(), **self._config_dict}
