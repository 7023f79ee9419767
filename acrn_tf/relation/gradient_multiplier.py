"""Scales the gradient flowing back through a tensor, leaving its value alone.

The relation branch reads the scene feature maps (F and earlier S3D-G
endpoints) that the Base-Model head also trains. Paper 4.1 multiplies the
gradients from the relation branch into the feature map by 0.01 to keep
training stable; `multiply_gradient` is applied to each scene map as it
enters a relation module, so the Base-Model's own gradient into F is
untouched.

TensorFlow has no public op for this (`tf.stop_gradient` is the special case
multiplier 0, but its gradient is None rather than zeros), hence the small
`tf.custom_gradient` below.
"""

import tensorflow as tf


def multiply_gradient(tensor: tf.Tensor, multiplier: float) -> tf.Tensor:
  """Identity in the forward pass; the backward pass multiplies by `multiplier`.

  Args:
    tensor: any float tensor, e.g. a scene map [batch, h, w, c].
    multiplier: the factor the incoming gradient is multiplied by (>= 0). 1.0
      returns `tensor` itself; 0.0 gives zero gradients (not None, unlike
      `tf.stop_gradient`).

  Returns:
    A tensor equal to `tensor`, whose gradient is `multiplier` times the
    gradient flowing into it.

  Raises:
    ValueError: `multiplier` is negative.
  """
  multiplier = float(multiplier)
  if multiplier < 0:
    raise ValueError(f'gradient_multiplier must be >= 0, got {multiplier}.')
  if multiplier == 1.0:
    return tensor

  @tf.custom_gradient
  def _scaled(x):

    def grad(upstream):
      return upstream * tf.cast(multiplier, upstream.dtype)

    return tf.identity(x), grad

  return _scaled(tensor)
