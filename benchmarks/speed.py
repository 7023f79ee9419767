"""Speed of the S3D-G backbone and of the relation 1 x 1 stage (g_theta).

Each measurement returns a dataclass holding its settings, FLOP counts and
`timing.TimingStats`; ratios against the convolution peak are taken by the
caller, which measured the peak in the same run (`conv_peak`). Weights are
random: speed does not depend on their values.
"""

import dataclasses
from typing import Dict, List, Optional, Sequence, Tuple

import tensorflow as tf

from acrn_tf.models import s3dg
from acrn_tf.relation import g_theta
from benchmarks import flops
from benchmarks import timing


@dataclasses.dataclass(frozen=True)
class TimedMode:
  """One variant timed, or why it could not be.

  Attributes:
    name: label (e.g. 'xla', 'no xla', 'decomposed, xla').
    use_xla: whether the function was compiled with XLA.
    stats: the timing statistics, None if it failed.
    error: the failure's message, None if it ran.
  """
  name: str
  use_xla: bool
  stats: Optional[timing.TimingStats] = None
  error: Optional[str] = None

  @property
  def median_seconds(self) -> Optional[float]:
    return None if self.stats is None else self.stats.median_seconds


def xla_label(use_xla: bool) -> str:
  return 'xla' if use_xla else 'no xla'


def time_mode(name: str, use_xla: bool, fn, num_repeats: int,
              num_warmup: int) -> TimedMode:
  """Times `fn`; an XLA compilation failure becomes the mode's error."""
  try:
    stats = timing.time_callable(fn, num_repeats, num_warmup,
                                 block=timing.wait_for)
  except (tf.errors.OpError, ValueError, TypeError, NotImplementedError) as e:
    if not use_xla:
      raise
    message = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
    return TimedMode(name, use_xla, error=f'{type(e).__name__}: {message}')
  return TimedMode(name, use_xla, stats=stats)


@dataclasses.dataclass(frozen=True)
class BackboneResult:
  """S3D-G RGB forward pass (inference, batch 1).

  Attributes:
    preset: `s3dg.S3DG_PRESETS` key of the block settings.
    depth_multiplier: channel multiplier.
    input_shape: (frames, height, width) of the clip.
    final_endpoint: last block run.
    flops_by_endpoint: hand count per endpoint (`flops.s3dg_flops`).
    profiler_conv_flops: TensorFlow profiler's count of the convolutions in
      the traced graph (`flops.graph_float_ops`), the cross-check.
    modes: one `TimedMode` per XLA setting.
  """
  preset: str
  depth_multiplier: float
  input_shape: Tuple[int, int, int]
  final_endpoint: str
  flops_by_endpoint: Dict[str, int]
  profiler_conv_flops: int
  modes: List[TimedMode]

  @property
  def gflop(self) -> float:
    """Hand-counted GFLOPs of one forward pass."""
    return sum(self.flops_by_endpoint.values()) / 1e9

  @property
  def profiler_gflop(self) -> float:
    return self.profiler_conv_flops / 1e9

  def gflops_per_second(self, mode: TimedMode) -> Optional[float]:
    if mode.median_seconds is None:
      return None
    return self.gflop / mode.median_seconds


def measure_backbone(num_frames: int = 16, height: int = 224,
                     width: int = 224, depth_multiplier: float = 1.0,
                     preset: str = 'top_heavy',
                     final_endpoint: str = 'Mixed_5c',
                     xla_modes: Sequence[bool] = (False, True),
                     num_repeats: int = 5,
                     num_warmup: int = 1) -> BackboneResult:
  """Times an S3D-G RGB forward pass of one clip up to `final_endpoint`.

  Args:
    num_frames, height, width: the clip's size.
    depth_multiplier: S3D-G channel multiplier (1.0: the paper's widths).
    preset: 'top_heavy' (the ACRN paper's) or 'original'.
    final_endpoint: last S3D-G block.
    xla_modes: False, True or both (`tf.function(jit_compile=...)`).
    num_repeats: timed calls per mode.
    num_warmup: untimed calls first (tracing, XLA compilation).

  Returns:
    `BackboneResult`.

  Raises:
    ValueError: an unknown preset or endpoint.
  """
  if preset not in s3dg.S3DG_PRESETS:
    raise ValueError(f'preset: expected one of {sorted(s3dg.S3DG_PRESETS)}, '
                     f'got {preset!r}')
  model = s3dg.S3DG(depth_multiplier=depth_multiplier,
                    final_endpoint=final_endpoint,
                    **s3dg.S3DG_PRESETS[preset])
  clip = tf.random.uniform([1, num_frames, height, width, 3], -1.0, 1.0,
                           seed=3)
  flops_by_endpoint = flops.s3dg_flops(model, num_frames, height, width)

  def forward(inputs):
    return model(inputs, training=False)[final_endpoint]

  traced = tf.function(forward).get_concrete_function(
      tf.TensorSpec(clip.shape, tf.float32))
  profiler_flops = flops.conv_and_matmul_flops(flops.graph_float_ops(traced))
  modes = []
  for use_xla in xla_modes:
    fn = tf.function(forward, jit_compile=use_xla)
    modes.append(time_mode(xla_label(use_xla), use_xla,
                           lambda fn=fn: fn(clip), num_repeats, num_warmup))
  return BackboneResult(preset, depth_multiplier,
                        (num_frames, height, width), final_endpoint,
                        dict(flops_by_endpoint), profiler_flops, modes)


@dataclasses.dataclass(frozen=True)
class RelationResult:
  """g_theta once per image (decomposed) against per actor (naive).

  Attributes:
    num_actors: actors per image.
    map_size: (height, width) of the scene map F.
    actor_channels, scene_channels, relation_channels: d_a, c of F, and
      g_theta's output channels.
    decomposed_flops, naive_flops: hand counts (`flops.g_theta_flops`).
    modes: `TimedMode`s named 'decomposed, <xla>' and 'naive, <xla>'.
  """
  num_actors: int
  map_size: Tuple[int, int]
  actor_channels: int
  scene_channels: int
  relation_channels: int
  decomposed_flops: int
  naive_flops: int
  modes: List[TimedMode]

  def speedups(self) -> Dict[str, Optional[float]]:
    """XLA label -> naive median time / decomposed median time."""
    by_name = {m.name: m for m in self.modes}
    ratios = {}
    for use_xla in (False, True):
      label = xla_label(use_xla)
      naive = by_name.get(f'naive, {label}')
      decomposed = by_name.get(f'decomposed, {label}')
      if naive is None or decomposed is None:
        continue
      if naive.median_seconds and decomposed.median_seconds:
        ratios[label] = naive.median_seconds / decomposed.median_seconds
      else:
        ratios[label] = None
    return ratios


def paper_relation_channels(depth_multiplier: float = 1.0
                            ) -> Tuple[int, int, int]:
  """(d_a, c of F, g_theta outputs) of the paper's model: (1024, 832, 832).

  f_a comes out of Mixed_5c, F is the flattened Mixed_4f, and g_theta gives
  as many channels as F has (the relation head's Mixed_5b takes them).
  """
  specs = s3dg.endpoint_specs(depth_multiplier)
  return (specs['Mixed_5c'].channels, specs['Mixed_4f'].channels,
          specs['Mixed_4f'].channels)


def measure_relation(num_actors: int = 32,
                     map_size: Tuple[int, int] = (14, 14),
                     channels: Optional[Tuple[int, int, int]] = None,
                     xla_modes: Sequence[bool] = (False, True),
                     num_repeats: int = 5,
                     num_warmup: int = 1) -> RelationResult:
  """Times g_theta decomposed and naive, with the same weights.

  Args:
    num_actors: actors per image.
    map_size: (height, width) of F (14 x 14 for a 224 x 224 clip).
    channels: (d_a, c of F, relation channels); default
      `paper_relation_channels()`.
    xla_modes: XLA settings to time each variant with.
    num_repeats: timed calls per variant.
    num_warmup: untimed calls first.

  Returns:
    `RelationResult`.
  """
  actor_channels, scene_channels, relation_channels = (
      channels or paper_relation_channels())
  height, width = map_size
  actors = tf.random.normal([1, num_actors, actor_channels], seed=4)
  corners = tf.sort(tf.random.uniform([1, num_actors, 2, 2], seed=5), axis=2)
  boxes = tf.reshape(corners, [1, num_actors, 4])
  scene = tf.random.normal([1, height, width, scene_channels], seed=6)
  scale = tf.random.uniform([1, num_actors], 0.5, 2.0, seed=7)
  inputs = (actors, boxes, scene, scale)
  layers = {}
  for decompose in (True, False):
    layer = g_theta.PairwiseRelationConv(relation_channels,
                                         decompose=decompose)
    layer(inputs)
    layers[decompose] = layer
  layers[False].set_weights(layers[True].get_weights())
  modes = []
  for use_xla in xla_modes:
    for decompose in (True, False):
      fn = tf.function(layers[decompose].call, jit_compile=use_xla)
      name = (f'{"decomposed" if decompose else "naive"}, '
              f'{xla_label(use_xla)}')
      modes.append(time_mode(name, use_xla, lambda fn=fn: fn(inputs),
                             num_repeats, num_warmup))

  def count(decompose):
    return flops.g_theta_flops(num_actors, height, width, actor_channels,
                               scene_channels, relation_channels, decompose)

  return RelationResult(num_actors, (height, width), actor_channels,
                        scene_channels, relation_channels, count(True),
                        count(False), modes)
