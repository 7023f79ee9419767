"""Two-stream S3D-G feature extractor with early fusion and temporal flattening.

The RGB and optical-flow S3D-G towers run up to a fusion endpoint (Mixed_4f
in the paper, 3.1), their maps are fused there, and the RGB tower's later
blocks (if any endpoint after the fusion point is asked for) run on the fused
map. Each requested endpoint [batch, t, h, w, c] is then flattened to a 2D
map [batch, h, w, c] by a t x 1 x 1 convolution (`TemporalFlattening`): F
from the feature endpoint (Mixed_4f: stride 16, 832 channels at depth
multiplier 1) and the relation module's scene maps.

Fusion ops (`fusion_op`):
  * 'sum': rgb + flow, element-wise.
  * 'average': (rgb + flow) / 2, element-wise.
  * 'concat_conv': channel concatenation [rgb; flow], then a 1x1(x1) conv
    with bias back to the endpoint's channels. Its kernel starts as
    [I / 2; I / 2], so at initialisation it equals 'average' and the
    pretrained towers' features pass through unchanged.

Endpoints below the fusion point (e.g. Conv2d_2c_3x3 or Mixed_3c as scene
context) exist once per stream: each stream's map is flattened by its own
t x 1 x 1 conv, then the two flattened maps are fused with the same op (a
separate layer, own weights for 'concat_conv'). The fusion endpoint itself is
fused in 3D, then flattened once; later endpoints come from the fused trunk.
A single-stream extractor ('rgb' or 'flow') flattens its tower's endpoints.
"""

import collections
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
import tensorflow as tf
import tf_keras

from acrn_tf.core import standard_fields as fields
from acrn_tf.models import s3dg
from acrn_tf.models import s3dg_layers
from acrn_tf.models import slim_s3dg_checkpoint

STREAMS = ('rgb', 'flow', 'rgb_and_flow')
FUSION_OPS = ('sum', 'average', 'concat_conv')

# Flow in pixels per frame is divided by this and clipped to [-1, 1]: the
# I3D / S3D-G Kinetics flow models were trained on flow truncated to
# [-20, 20] pixels and rescaled to [-1, 1].
DEFAULT_FLOW_SCALE = 20.0


@tf_keras.utils.register_keras_serializable(package='acrn_tf')
class TemporalAverageInitializer(tf_keras.initializers.Initializer):
  """Kernel [t, 1, 1, c, c] equal to I / t at every frame: a temporal mean."""

  def __call__(self, shape, dtype=None, **kwargs):
    shape = list(shape)
    if len(shape) != 5 or shape[1:3] != [1, 1] or shape[3] != shape[4]:
      raise ValueError('TemporalAverageInitializer needs a [t, 1, 1, c, c] '
                       f'kernel, got {shape}.')
    value = np.tile(np.eye(shape[3], dtype=np.float32) / shape[0],
                    [shape[0], 1, 1, 1, 1])
    return tf.constant(value, dtype=dtype or tf.float32)

  def get_config(self):
    return {}


@tf_keras.utils.register_keras_serializable(package='acrn_tf')
class StackedAverageInitializer(tf_keras.initializers.Initializer):
  """Kernel [2c, c] equal to [I / 2; I / 2]: averages two concatenated maps."""

  def __call__(self, shape, dtype=None, **kwargs):
    shape = list(shape)
    if len(shape) != 2 or shape[0] != 2 * shape[1]:
      raise ValueError('StackedAverageInitializer needs a [2c, c] kernel, got '
                       f'{shape}.')
    eye = np.eye(shape[1], dtype=np.float32) / 2.0
    return tf.constant(np.concatenate([eye, eye], 0), dtype=dtype or tf.float32)

  def get_config(self):
    return {}


@tf_keras.utils.register_keras_serializable(package='acrn_tf')
class TemporalFlattening(tf_keras.layers.Layer):
  """A t x 1 x 1 convolution, VALID in time: [B, t, h, w, c] -> [B, h, w, c].

  t is the input's time length, fixed when the layer is built. The kernel
  starts as the temporal mean (I / t per frame), the bias at zero.
  """

  def __init__(self, weight_decay: float = 0.0, **kwargs):
    """Initialises the layer.

    Args:
      weight_decay: slim-style L2 weight decay of the kernel.
      **kwargs: keyword arguments of `tf_keras.layers.Layer`.
    """
    super().__init__(**kwargs)
    self._config_dict = {'weight_decay': weight_decay}
    self._conv = None
    self._num_frames = None

  def build(self, input_shape):
    input_shape = tf.TensorShape(input_shape)
    if (input_shape.rank != 5 or input_shape[1] is None or
        input_shape[-1] is None):
      raise ValueError(f'{self.name}: needs [batch, t, h, w, c] with t and c '
                       f'known when built, got {input_shape}.')
    self._num_frames = int(input_shape[1])
    self._conv = tf_keras.layers.Conv3D(
        int(input_shape[-1]), (self._num_frames, 1, 1), padding='valid',
        use_bias=True, kernel_initializer=TemporalAverageInitializer(),
        kernel_regularizer=s3dg_layers.l2_regularizer(
            self._config_dict['weight_decay']), name='conv3d')
    super().build(input_shape)

  @property
  def kernel(self) -> tf.Variable:
    """The [t, 1, 1, c, c] kernel (after build)."""
    return self._conv.kernel

  @property
  def bias(self) -> tf.Variable:
    return self._conv.bias

  def call(self, inputs: tf.Tensor) -> tf.Tensor:
    """Flattens [batch, t, h, w, c] to [batch, h, w, c]."""
    if inputs.shape[1] != self._num_frames:
      raise ValueError(f'{self.name}: built for {self._num_frames} frames, got '
                       f'shape {inputs.shape}.')
    return tf.squeeze(self._conv(inputs), axis=1)

  def get_config(self) -> Mapping[str, Any]:
    return {**super().get_config(), **self._config_dict}


@tf_keras.utils.register_keras_serializable(package='acrn_tf')
class StreamFusion(tf_keras.layers.Layer):
  """Fuses two same-shaped maps [..., c] by 'sum', 'average' or 'concat_conv'.

  'concat_conv' is a 1x1(x1) convolution of the concatenated channels,
  written as a Dense layer on the channel axis (the same operation for any
  rank, so one layer serves 3D and flattened 2D maps).
  """

  def __init__(self, fusion_op: str = 'sum', weight_decay: float = 0.0,
               **kwargs):
    """Initialises the fusion.

    Args:
      fusion_op: one of `FUSION_OPS`.
      weight_decay: slim-style L2 weight decay of the 'concat_conv' kernel.
      **kwargs: keyword arguments of `tf_keras.layers.Layer`.
    """
    super().__init__(**kwargs)
    if fusion_op not in FUSION_OPS:
      raise ValueError(f'fusion_op must be one of {FUSION_OPS}, got '
                       f'{fusion_op!r}.')
    self._config_dict = {'fusion_op': fusion_op, 'weight_decay': weight_decay}
    self._conv = None

  def build(self, input_shape):
    rgb_shape, flow_shape = [tf.TensorShape(s) for s in input_shape]
    if rgb_shape.as_list()[1:] != flow_shape.as_list()[1:]:
      raise ValueError(f'{self.name}: the two streams differ in shape: '
                       f'{rgb_shape} vs {flow_shape}.')
    if self._config_dict['fusion_op'] == 'concat_conv':
      self._conv = tf_keras.layers.Dense(
          int(rgb_shape[-1]), use_bias=True,
          kernel_initializer=StackedAverageInitializer(),
          kernel_regularizer=s3dg_layers.l2_regularizer(
              self._config_dict['weight_decay']), name='conv_1x1')
    super().build(input_shape)

  @property
  def kernel(self) -> Optional[tf.Variable]:
    """The [2c, c] 'concat_conv' kernel (None for the other ops)."""
    return None if self._conv is None else self._conv.kernel

  @property
  def bias(self) -> Optional[tf.Variable]:
    return None if self._conv is None else self._conv.bias

  def call(self, inputs: Sequence[tf.Tensor]) -> tf.Tensor:
    """Fuses (rgb, flow), each [batch, ..., c]; returns [batch, ..., c]."""
    rgb, flow = inputs
    op = self._config_dict['fusion_op']
    if op == 'sum':
      return rgb + flow
    if op == 'average':
      return (rgb + flow) / 2.0
    return self._conv(tf.concat([rgb, flow], axis=-1))

  def get_config(self) -> Mapping[str, Any]:
    return {**super().get_config(), **self._config_dict}


@tf_keras.utils.register_keras_serializable(package='acrn_tf')
class VideoFeatureExtractor(tf_keras.Model):
  """S3D-G streams, early fusion and temporal flattening into 2D maps."""

  def __init__(self,
               streams: str = 'rgb',
               fusion_endpoint: str = 'Mixed_4f',
               fusion_op: str = 'sum',
               feature_endpoint: str = 'Mixed_4f',
               scene_endpoints: Sequence[str] = (),
               flow_scale: float = DEFAULT_FLOW_SCALE,
               **s3dg_kwargs):
    """Initialises the towers and the fusion and flattening layers.

    Args:
      streams: 'rgb', 'flow' or 'rgb_and_flow'.
      fusion_endpoint: where two streams fuse (ignored for one stream).
      fusion_op: one of `FUSION_OPS` (see the module docstring).
      feature_endpoint: endpoint flattened into F.
      scene_endpoints: further endpoints flattened for the relation module.
      flow_scale: `preprocess_flow` divides pixels per frame by this.
      **s3dg_kwargs: `S3DG` arguments (first_temporal_kernel_size,
        temporal_conv_startat, gating_startat, depth_multiplier, min_depth,
        batch_norm_decay, batch_norm_epsilon, weight_decay,
        use_frozen_batch_norm), shared by both towers; `name` names this
        model.

    Raises:
      ValueError: an unknown stream, op or endpoint, or an `S3DG` argument
        this class sets itself.
    """
    super().__init__(name=s3dg_kwargs.pop('name', 'video_feature_extractor'))
    if streams not in STREAMS:
      raise ValueError(f'streams must be one of {STREAMS}, got {streams!r}.')
    if fusion_op not in FUSION_OPS:
      raise ValueError(f'fusion_op must be one of {FUSION_OPS}, got '
                       f'{fusion_op!r}.')
    for key in ('final_endpoint', 'input_channels'):
      if key in s3dg_kwargs:
        raise ValueError(f'{key} is set by VideoFeatureExtractor from its '
                         'endpoints and streams; do not pass it.')
    if flow_scale <= 0:
      raise ValueError(f'flow_scale must be > 0, got {flow_scale}.')
    fusion_index = s3dg.endpoint_index(fusion_endpoint, 'fusion_endpoint')
    s3dg.endpoint_index(feature_endpoint, 'feature_endpoint')
    scene_endpoints = tuple(scene_endpoints)
    for name in scene_endpoints:
      s3dg.endpoint_index(name, 'scene_endpoints')
    self._config_dict = {
        'streams': streams, 'fusion_endpoint': fusion_endpoint,
        'fusion_op': fusion_op, 'feature_endpoint': feature_endpoint,
        'scene_endpoints': scene_endpoints, 'flow_scale': flow_scale,
        **s3dg_kwargs,
    }
    self._s3dg_kwargs = dict(s3dg_kwargs)
    self._endpoints = sorted(set((feature_endpoint,) + scene_endpoints),
                             key=s3dg.ENDPOINTS.index)
    last = self._endpoints[-1]
    weight_decay = s3dg_kwargs.get('weight_decay', 1e-7)
    self._two_stream = streams == 'rgb_and_flow'
    self._towers = {}
    if streams in ('rgb', 'rgb_and_flow'):
      self._towers['rgb'] = s3dg.S3DG(final_endpoint=last, input_channels=3,
                                      name='rgb_s3dg', **s3dg_kwargs)
    if streams in ('flow', 'rgb_and_flow'):
      flow_last = last
      if self._two_stream:
        flow_last = s3dg.ENDPOINTS[min(fusion_index,
                                       s3dg.ENDPOINTS.index(last))]
      self._towers['flow'] = s3dg.S3DG(final_endpoint=flow_last,
                                       input_channels=2, name='flow_s3dg',
                                       **s3dg_kwargs)

    def flatten(prefix, endpoint):
      return TemporalFlattening(weight_decay=weight_decay,
                                name=f'{prefix}{endpoint}/flatten')

    def fusion(endpoint):
      return StreamFusion(fusion_op, weight_decay=weight_decay,
                          name=f'{endpoint}/fusion')

    self._below_fusion = [e for e in self._endpoints
                          if self._two_stream and
                          s3dg.ENDPOINTS.index(e) < fusion_index]
    self._flattenings = {e: flatten('', e) for e in self._endpoints
                     if e not in self._below_fusion}
    self._rgb_flatten = {e: flatten('rgb/', e) for e in self._below_fusion}
    self._flow_flatten = {e: flatten('flow/', e) for e in self._below_fusion}
    self._scene_fusion = {e: fusion(e) for e in self._below_fusion}
    self._fusion = None
    if self._two_stream and s3dg.ENDPOINTS.index(last) >= fusion_index:
      self._fusion = fusion(fusion_endpoint)

  @property
  def towers(self) -> Mapping[str, s3dg.S3DG]:
    """Stream ('rgb' / 'flow') -> its S3D-G tower."""
    return dict(self._towers)

  @property
  def endpoints(self) -> Sequence[str]:
    """Endpoints flattened by `call`, in network order."""
    return tuple(self._endpoints)

  def flattening_layer(self, endpoint: str,
                       stream: Optional[str] = None) -> TemporalFlattening:
    """The `TemporalFlattening` of `endpoint`.

    Args:
      endpoint: a flattened endpoint.
      stream: 'rgb' or 'flow' for a two-stream endpoint below the fusion
        point (flattened per stream); None otherwise.
    """
    table = {None: self._flattenings, 'rgb': self._rgb_flatten,
             'flow': self._flow_flatten}.get(stream)
    if table is None or endpoint not in table:
      raise ValueError(f'{self.name} has no flattening of {endpoint!r} for '
                       f'stream {stream!r}.')
    return table[endpoint]

  def fusion_layer(self, endpoint: str) -> StreamFusion:
    """The `StreamFusion` fusing `endpoint` (the fusion endpoint, in 3D, or
    a flattened endpoint below it); ValueError for a single stream."""
    if self._fusion is not None and (
        endpoint == self._config_dict['fusion_endpoint']):
      return self._fusion
    if endpoint not in self._scene_fusion:
      raise ValueError(f'{self.name} fuses no {endpoint!r}.')
    return self._scene_fusion[endpoint]

  def scene_only_layers(self) -> List[tf_keras.layers.Layer]:
    """The flattening and fusion layers of scene endpoints other than F's.

    They exist only for the relation module's scene maps: a model that
    relates to no such endpoint (e.g. a Base-Model) has none of them.
    """
    feature_endpoint = self._config_dict['feature_endpoint']
    layers = []
    for table in (self._flattenings, self._rgb_flatten, self._flow_flatten,
                  self._scene_fusion):
      layers.extend(layer for endpoint, layer in table.items()
                    if endpoint != feature_endpoint)
    return layers

  def output_channels(self, endpoint: str) -> int:
    """Channels of the flattened map of `endpoint`."""
    depth_multiplier = self._s3dg_kwargs.get('depth_multiplier', 1.0)
    min_depth = self._s3dg_kwargs.get('min_depth', 16)
    return s3dg.endpoint_specs(depth_multiplier, min_depth)[endpoint].channels

  def preprocess_rgb(self, frames: tf.Tensor) -> tf.Tensor:
    """Scales RGB [..., 3] in [0, 255] (uint8 or float) to float32 [-1, 1]."""
    return tf.cast(frames, tf.float32) / 127.5 - 1.0

  def preprocess_flow(self, flow: tf.Tensor) -> tf.Tensor:
    """Scales flow [..., 2] in pixels per frame to float32 [-1, 1].

    Divides by `flow_scale` (default 20 pixels) and clips to [-1, 1].
    """
    scaled = tf.cast(flow, tf.float32) / self._config_dict['flow_scale']
    return tf.clip_by_value(scaled, -1.0, 1.0)

  def _stream_endpoints(self, rgb, flow, training):
    """Runs the towers; returns (per-stream endpoints, post-fusion ones)."""
    fusion_endpoint = self._config_dict['fusion_endpoint']
    if not self._two_stream:
      stream = 'rgb' if 'rgb' in self._towers else 'flow'
      video = rgb if stream == 'rgb' else flow
      return {}, self._towers[stream](video, training=training)
    flow_points = self._towers['flow'](flow, training=training)
    rgb_points = self._towers['rgb'](
        rgb, training=training,
        end_endpoint=self._towers['flow'].endpoint_names[-1])
    trunk = collections.OrderedDict()
    if self._fusion is not None:
      trunk[fusion_endpoint] = self._fusion(
          [rgb_points[fusion_endpoint], flow_points[fusion_endpoint]])
      rgb_names = self._towers['rgb'].endpoint_names
      if rgb_names[-1] != fusion_endpoint:
        next_endpoint = s3dg.ENDPOINTS[
            s3dg.ENDPOINTS.index(fusion_endpoint) + 1]
        trunk.update(self._towers['rgb'](
            trunk[fusion_endpoint], training=training,
            start_endpoint=next_endpoint))
    return {'rgb': rgb_points, 'flow': flow_points}, trunk

  def call(self, rgb: Optional[tf.Tensor] = None,
           flow: Optional[tf.Tensor] = None,
           training=None) -> Dict[str, Any]:
    """Computes the flattened feature map F and the scene maps.

    Args:
      rgb: float32 [batch, T, H, W, 3] preprocessed by `preprocess_rgb`, or
        None if the extractor has no RGB stream (ignored then).
      flow: float32 [batch, T, H, W, 2] preprocessed by `preprocess_flow`,
        or None if the extractor has no flow stream (ignored then).
      training: batch-norm mode (ignored when batch norm is frozen).

    Returns:
      dict with `PredictionFields.feature_map`: float32 [batch, h, w, c] from
      `feature_endpoint` (h = ceil(H / 16), c = 832 * multiplier at
      Mixed_4f), and `PredictionFields.scene_feature_maps`: dict endpoint
      name -> float32 [batch, h', w', c'] for each of `scene_endpoints`.

    Raises:
      ValueError: a stream the extractor needs is missing or mis-shaped.
    """
    for stream, video in (('rgb', rgb), ('flow', flow)):
      if stream in self._towers and video is None:
        raise ValueError(f'{self.name} has a {stream} stream: pass `{stream}`.')
    if (self._two_stream and
        rgb.shape[:4].as_list() != flow.shape[:4].as_list()):
      raise ValueError(f'{self.name}: rgb {rgb.shape} and flow {flow.shape} '
                       'must share batch, time, height and width.')
    per_stream, trunk = self._stream_endpoints(rgb, flow, training)
    maps = {}
    for endpoint in self._endpoints:
      if endpoint in self._below_fusion:
        maps[endpoint] = self._scene_fusion[endpoint]([
            self._rgb_flatten[endpoint](per_stream['rgb'][endpoint]),
            self._flow_flatten[endpoint](per_stream['flow'][endpoint])])
      else:
        maps[endpoint] = self._flattenings[endpoint](trunk[endpoint])
    return {
        fields.PredictionFields.feature_map:
            maps[self._config_dict['feature_endpoint']],
        fields.PredictionFields.scene_feature_maps: {
            e: maps[e] for e in self._config_dict['scene_endpoints']},
    }

  def restore_from_slim(
      self,
      rgb_checkpoint: Optional[str] = None,
      flow_checkpoint: Optional[str] = None,
      scope: str = slim_s3dg_checkpoint.DEFAULT_SCOPE,
      ignore_missing: Sequence[str] = (
          slim_s3dg_checkpoint.DEFAULT_IGNORE_PATTERNS),
      flow_scope: Optional[str] = None
  ) -> Dict[str, slim_s3dg_checkpoint.SlimRestoreReport]:
    """Restores each tower from a slim S3D-G checkpoint (call the model first).

    Checkpoint variables of endpoints a tower does not have are skipped. A
    flow tower given an RGB checkpoint gets Conv2d_1a_7x7 averaged over
    input channels (see `load_slim_s3dg_checkpoint`).

    Args:
      rgb_checkpoint: checkpoint for the RGB tower (None: not restored).
      flow_checkpoint: checkpoint for the flow tower (None: not restored).
      scope: the network's scope in the RGB checkpoint (and in the flow
        checkpoint unless `flow_scope` is given).
      ignore_missing: further ignore patterns.
      flow_scope: the network's scope in the flow checkpoint (None:
        `scope`), e.g. when both streams are in one checkpoint.

    Returns:
      dict stream -> `SlimRestoreReport` for each tower restored.
    """
    scopes = {'rgb': scope,
              'flow': scope if flow_scope is None else flow_scope}
    reports = {}
    for stream, path in (('rgb', rgb_checkpoint), ('flow', flow_checkpoint)):
      if path is None:
        continue
      if stream not in self._towers:
        raise ValueError(f'{self.name} has no {stream} stream to restore from '
                         f'{path}.')
      tower = self._towers[stream]
      reports[stream] = slim_s3dg_checkpoint.load_slim_s3dg_checkpoint(
          path, tower, scope=scopes[stream],
          ignore_missing=tuple(ignore_missing) +
          slim_s3dg_checkpoint.unowned_endpoint_patterns(tower))
    return reports

  def get_config(self) -> Mapping[str, Any]:
    return {'name': self.name, **self._config_dict}

  @classmethod
  def from_config(cls, config, custom_objects=None):
    del custom_objects
    return cls(**config)
