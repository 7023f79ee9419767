"""Speed of the whole detector per clip: Base-Model against ACRN.

The model comes from `model_builder.build` and a pipeline.config; one clip
(batch 1) of random frames (and flow, for two-stream configs) of the eval
input reader's size runs through `preprocess -> predict(training=False) ->
postprocess` inside one `tf.function`, with or without XLA. The actor count
is the RPN's `num_proposals_eval` (every proposal goes through the action
head and, for ACRN, the relation module); an override sets it. Weights are
random.
"""

import dataclasses
from typing import List, Optional, Sequence, Tuple

import tensorflow as tf

from acrn_tf.builders import config_util
from acrn_tf.builders import model_builder
from acrn_tf.core import standard_fields as fields
from benchmarks import flops
from benchmarks import speed

NUM_PROPOSALS_FIELD = (
    'model.video_faster_rcnn.actor_detector.rpn.num_proposals_eval')


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """Which model to time.

  Attributes:
    name: label in the report (e.g. 'ACRN tiny').
    config_path: the pipeline.config.
    overrides: `field.path=value` overrides (`config_util`), e.g. the actor
      count (`NUM_PROPOSALS_FIELD`).
    base_model: drop the relation module (the Base-Model of the same
      config).
    clip_shape: (frames, height, width) instead of the eval input reader's
      (a reduced input: the report says so).
  """
  name: str
  config_path: str
  overrides: Tuple[str, ...] = ()
  base_model: bool = False
  clip_shape: Optional[Tuple[int, int, int]] = None


@dataclasses.dataclass(frozen=True)
class ModelSpeedResult:
  """One model's inference time per clip.

  Attributes:
    spec: what was asked for.
    model_class: the built model's class name.
    clip_shape: (frames, height, width) fed.
    use_flow: whether a flow clip was fed too.
    reduced_input: True when clip_shape differs from the config's.
    num_actors: proposals per clip that went through the heads.
    profiler_conv_flops: TensorFlow profiler's count of the convolutions
      and matmuls of the traced inference graph (einsums not counted),
      None if it could not be taken.
    modes: one `speed.TimedMode` per XLA setting.
  """
  spec: ModelSpec
  model_class: str
  clip_shape: Tuple[int, int, int]
  use_flow: bool
  reduced_input: bool
  num_actors: int
  profiler_conv_flops: Optional[int]
  modes: List[speed.TimedMode]

  @property
  def profiler_gflop(self) -> Optional[float]:
    if self.profiler_conv_flops is None:
      return None
    return self.profiler_conv_flops / 1e9


def _input_reader(pipeline):
  if len(pipeline.eval_input_reader):
    return pipeline.eval_input_reader[0]
  return pipeline.train_input_reader


def load_model_config(spec: ModelSpec):
  """The spec's pipeline config with its overrides; (pipeline, reader)."""
  pipeline = config_util.load_pipeline_config(spec.config_path,
                                              overrides=spec.overrides)
  if spec.base_model:
    pipeline.model.video_faster_rcnn.ClearField('relation_module')
  return pipeline, _input_reader(pipeline)


def measure_model_inference(spec: ModelSpec,
                            xla_modes: Sequence[bool] = (False, True),
                            num_repeats: int = 5,
                            num_warmup: int = 1) -> ModelSpeedResult:
  """Builds the spec's model and times its inference on one clip.

  Args:
    spec: the model (config, overrides, Base-Model or not, clip size).
    xla_modes: XLA settings to time.
    num_repeats: timed calls per mode.
    num_warmup: untimed calls first (tracing, compilation).

  Returns:
    `ModelSpeedResult`.

  Raises:
    ValueError (ConfigError, ModelConfigError): a bad config.
  """
  pipeline, reader = load_model_config(spec)
  config_shape = (int(reader.frames_per_clip), int(reader.image_height),
                  int(reader.image_width))
  clip_shape = tuple(spec.clip_shape or config_shape)
  if min(clip_shape) < 1:
    raise ValueError(f'{spec.config_path}: the input reader gives no clip '
                     f'size (frames_per_clip, image_height, image_width = '
                     f'{config_shape}); set ModelSpec.clip_shape')
  num_frames, height, width = clip_shape
  model = model_builder.build(pipeline.model, is_training=False,
                              image_size=(height, width))
  inputs = {
      fields.InputDataFields.frames: tf.cast(tf.random.uniform(
          [1, num_frames, height, width, 3], 0, 256, tf.int32, seed=8),
                                             tf.uint8),
  }
  if reader.use_flow:
    inputs[fields.InputDataFields.flow] = tf.random.normal(
        [1, num_frames, height, width, 2], stddev=2.0, seed=9)

  def infer(clip):
    predictions = model.predict(model.preprocess(clip), training=False)
    detections = model.postprocess(predictions)
    num_actors = tf.shape(
        predictions[fields.PredictionFields.proposal_boxes])[1]
    return detections, num_actors

  modes = []
  num_actors = None
  profiler_flops = None
  last_outputs = []

  def call(fn):
    last_outputs[:] = [fn(inputs)]
    return last_outputs[0]

  for use_xla in xla_modes:
    fn = tf.function(infer, jit_compile=use_xla)
    mode = speed.time_mode(speed.xla_label(use_xla), use_xla,
                           lambda fn=fn: call(fn), num_repeats, num_warmup)
    modes.append(mode)
    if mode.stats is not None and num_actors is None:
      num_actors = int(last_outputs[0][1])
    if not use_xla and profiler_flops is None:
      profiler_flops = _profiler_flops(fn, inputs)
  if num_actors is None:
    num_actors = int(infer(inputs)[1])
  return ModelSpeedResult(
      spec=spec, model_class=type(model).__name__, clip_shape=clip_shape,
      use_flow=bool(reader.use_flow), reduced_input=clip_shape != config_shape,
      num_actors=num_actors, profiler_conv_flops=profiler_flops, modes=modes)


def _profiler_flops(fn, inputs) -> Optional[int]:
  """Profiler conv/matmul FLOPs of `fn`'s trace for `inputs`, or None."""
  try:
    concrete = fn.get_concrete_function(inputs)
    return flops.conv_and_matmul_flops(flops.graph_float_ops(concrete))
  except (ValueError, TypeError, tf.errors.OpError):
    return None


def default_specs(tiny_base_config: str, tiny_acrn_config: str,
                  paper_config: Optional[str], paper_num_actors: int = 10,
                  paper_clip_shape: Optional[Tuple[int, int, int]] = None
                  ) -> List[ModelSpec]:
  """Base-Model and ACRN at the tiny configs, then at the paper config.

  The paper-size pair is the paper config (ACRN) and the same config
  without its relation module (Base-Model), both with `paper_num_actors`
  proposals per clip.
  """
  specs = [ModelSpec('Base-Model tiny', tiny_base_config),
           ModelSpec('ACRN tiny', tiny_acrn_config)]
  if paper_config:
    overrides = (f'{NUM_PROPOSALS_FIELD}={paper_num_actors}',)
    specs += [
        ModelSpec('Base-Model paper', paper_config, overrides,
                  base_model=True, clip_shape=paper_clip_shape),
        ModelSpec('ACRN paper', paper_config, overrides,
                  clip_shape=paper_clip_shape),
    ]
  return specs
