"""The inputs an exported model accepts, checked and decoded in the graph.

Three input types, as the OD API's exporter names them. Every signature's
input is called `input_tensor` (`INPUT_NAME`):

  video_tensor    uint8 `[1, T, H, W, 3]` RGB frames; a model with a flow
                  stream also takes `flow`, float32 `[1, T, H, W, 2]` (x, y)
                  in pixels per frame.
  encoded_frames  string `[T]`, one JPEG or PNG per frame (RGB models only:
                  the graph cannot compute optical flow).
  tf_example      string `[1]`, one serialized SequenceExample of the
                  project's TFRecord schema; its stored clip is sampled as
                  the eval input reader does (frames per clip, stride) and
                  its stored flow is used by flow models.

Frames of any size up to `max_image_size` are resized in the graph to the
model's input size, exactly as the eval input pipeline resizes them. The
rank, the frame count and the size are checked with assertions whose
messages say what was expected, so a bad request fails with that message
rather than with a kernel's shape error deep in the model.
"""

import dataclasses
from typing import Dict, List, Optional, Tuple

import tensorflow as tf

from acrn_tf.core import standard_fields
from acrn_tf.data.input import augmentation
from acrn_tf.data.input import decoder as decoder_lib

_fields = standard_fields.InputDataFields

VIDEO_TENSOR = 'video_tensor'
ENCODED_FRAMES = 'encoded_frames'
TF_EXAMPLE = 'tf_example'
INPUT_TYPES = (VIDEO_TENSOR, ENCODED_FRAMES, TF_EXAMPLE)

INPUT_NAME = 'input_tensor'
FLOW_INPUT_NAME = 'flow'

# An export directory's layout (here, not in `exporter`, so that readers of
# exports need not import the model-building stack).
SAVED_MODEL_DIR = 'saved_model'
LABEL_MAP_NAME = 'label_map.pbtxt'
SIGNATURE_KEY = 'serving_default'


class ServingInputError(ValueError):
  """An input type that cannot serve the model, or a bad input setting."""


@dataclasses.dataclass(frozen=True)
class ServingInputSpec:
  """What the exported signature expects and how it feeds the model.

  Attributes:
    input_type: one of `INPUT_TYPES`.
    frames_per_clip: T, the frames the model takes.
    frame_stride: stored frames between two sampled frames (tf_example).
    image_size: (height, width) the frames are resized to.
    use_flow: the model has a flow stream.
    max_image_size: the largest height or width accepted.
    label_ids: the label-map ids (tf_example decoding needs them).
  """
  input_type: str
  frames_per_clip: int
  frame_stride: int
  image_size: Tuple[int, int]
  use_flow: bool
  max_image_size: int
  label_ids: Tuple[int, ...]

  def __post_init__(self):
    if self.input_type not in INPUT_TYPES:
      raise ServingInputError(
          f'input_type: expected one of {", ".join(INPUT_TYPES)}, got '
          f'{self.input_type!r}')
    if self.input_type == ENCODED_FRAMES and self.use_flow:
      raise ServingInputError(
          'input_type encoded_frames: the model has a flow stream and the '
          'graph cannot compute optical flow; export with video_tensor '
          '(frames and flow) or tf_example (records with stored flow)')
    if self.frames_per_clip < 1:
      raise ServingInputError(
          f'frames_per_clip must be >= 1, got {self.frames_per_clip}')
    if self.frame_stride < 1:
      raise ServingInputError(
          f'frame_stride must be >= 1, got {self.frame_stride}')
    if min(self.image_size) < 1:
      raise ServingInputError(
          f'image_size must be positive, got {self.image_size}')
    if self.max_image_size < max(self.image_size):
      raise ServingInputError(
          f'max_image_size ({self.max_image_size}) must be at least the '
          f'model\'s input size {self.image_size}')

  def signature(self) -> List[tf.TensorSpec]:
    """The TensorSpecs of the serving function's arguments, in order."""
    if self.input_type == VIDEO_TENSOR:
      # Unknown rank: the rank is checked in the graph with a clear message.
      specs = [tf.TensorSpec(None, tf.uint8, name=INPUT_NAME)]
      if self.use_flow:
        specs.append(tf.TensorSpec(None, tf.float32, name=FLOW_INPUT_NAME))
      return specs
    if self.input_type == ENCODED_FRAMES:
      return [tf.TensorSpec(None, tf.string, name=INPUT_NAME)]
    return [tf.TensorSpec(None, tf.string, name=INPUT_NAME)]

  def model_inputs(self, *args: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Checks and decodes the signature's arguments into the model's inputs.

    Args:
      *args: tensors matching `signature()`.

    Returns:
      frames uint8 `[1, T, height, width, 3]` (values as the eval pipeline
      gives them) and, for flow models, flow float32 `[1, T, height, width,
      2]`, keyed by `InputDataFields`.
    """
    if self.input_type == VIDEO_TENSOR:
      frames, flow = _check_video_tensor(self, args[0],
                                         args[1] if self.use_flow else None)
    elif self.input_type == ENCODED_FRAMES:
      frames, flow = _decode_encoded_frames(self, args[0]), None
    else:
      frames, flow = _decode_tf_example(self, args[0])
    frames, flow = _resize(self, frames, flow)
    inputs = {_fields.frames: frames[tf.newaxis]}
    if flow is not None:
      inputs[_fields.flow] = flow[tf.newaxis]
    return inputs


def _with_checks(checks, tensor):
  with tf.control_dependencies(checks):
    return tf.identity(tensor)


def _as_rank_5(tensor: tf.Tensor) -> tf.Tensor:
  """`tensor` with a static rank of 5, for use after its rank is asserted.

  `tf.ensure_shape` would fail at graph instantiation, before the assertion
  could give its message; a reshape to the shape padded with ones cannot.
  """
  padded = tf.concat([tf.shape(tensor), tf.ones([5], tf.int32)], axis=0)
  return tf.reshape(tensor, tf.reshape(padded[:5], [5]))


def _size_checks(spec: ServingInputSpec, frames: tf.Tensor, name: str):
  """Assertions: T frames, each at most max_image_size on a side."""
  shape = tf.shape(frames)
  return [
      tf.debugging.assert_equal(
          shape[0], spec.frames_per_clip,
          message=f'{name}: expected {spec.frames_per_clip} frames (the '
          'frames_per_clip of the model)'),
      tf.debugging.assert_less_equal(
          tf.reduce_max(shape[1:3]), spec.max_image_size,
          message=f'{name}: frames larger than the exported maximum of '
          f'{spec.max_image_size} pixels on a side'),
      tf.debugging.assert_positive(
          tf.reduce_min(shape[1:3]),
          message=f'{name}: frames have no pixels'),
  ]


def _check_video_tensor(spec: ServingInputSpec, frames: tf.Tensor,
                        flow: Optional[tf.Tensor]):
  """[1, T, H, W, 3] uint8 (and flow) -> checked [T, H, W, 3] (and flow)."""
  expected = f'uint8 [1, {spec.frames_per_clip}, height, width, 3]'
  checks = [
      tf.debugging.assert_equal(
          tf.rank(frames), 5,
          message=f'{INPUT_NAME}: expected rank 5, {expected}'),
  ]
  with tf.control_dependencies(checks):
    frames = _as_rank_5(frames)
    shape = tf.shape(frames)
    checks += [
        tf.debugging.assert_equal(
            shape[0], 1, message=f'{INPUT_NAME}: expected a batch of 1 clip, '
            f'{expected}'),
        tf.debugging.assert_equal(
            shape[4], 3, message=f'{INPUT_NAME}: expected 3 (RGB) channels, '
            f'{expected}'),
    ]
  frames = _with_checks(checks, frames)[0]
  frames = _with_checks(_size_checks(spec, frames, INPUT_NAME), frames)
  if flow is None:
    return frames, None
  flow_expected = (f'float32 [1, {spec.frames_per_clip}, height, width, 2] '
                   'with the height and width of the frames')
  flow_checks = [
      tf.debugging.assert_equal(
          tf.rank(flow), 5,
          message=f'{FLOW_INPUT_NAME}: expected rank 5, {flow_expected}'),
  ]
  with tf.control_dependencies(flow_checks):
    flow = _as_rank_5(flow)
    flow_checks.append(tf.debugging.assert_equal(
        tf.shape(flow), tf.concat([[1], tf.shape(frames)[:3], [2]], axis=0),
        message=f'{FLOW_INPUT_NAME}: expected {flow_expected}'))
  return frames, _with_checks(flow_checks, flow)[0]


def _decode_encoded_frames(spec: ServingInputSpec,
                           encoded: tf.Tensor) -> tf.Tensor:
  """[T] JPEG/PNG strings -> checked uint8 [T, H, W, 3]."""
  rank_check = tf.debugging.assert_equal(
      tf.rank(encoded), 1,
      message=f'{INPUT_NAME}: expected rank 1, a string '
      f'[{spec.frames_per_clip}] of encoded frames')
  encoded = _with_checks([rank_check], encoded)
  count_check = tf.debugging.assert_equal(
      tf.size(encoded), spec.frames_per_clip,
      message=f'{INPUT_NAME}: expected {spec.frames_per_clip} encoded frames '
      '(frames_per_clip of the model)')
  encoded = _with_checks([count_check], encoded)
  frames = tf.map_fn(
      lambda image: tf.io.decode_image(image, channels=3,
                                       expand_animations=False),
      encoded, fn_output_signature=tf.TensorSpec([None, None, 3], tf.uint8))
  return _with_checks(_size_checks(spec, frames, INPUT_NAME), frames)


def _decode_tf_example(spec: ServingInputSpec, serialized: tf.Tensor):
  """[1] serialized SequenceExample -> sampled clip (and stored flow)."""
  check = tf.debugging.assert_equal(
      tf.shape(serialized), [1],
      message=f'{INPUT_NAME}: expected a string [1], one serialized '
      'SequenceExample')
  serialized = _with_checks([check], serialized)
  example_decoder = decoder_lib.SequenceExampleDecoder(
      spec.label_ids, use_flow=spec.use_flow,
      frames_per_clip=spec.frames_per_clip, frame_stride=spec.frame_stride)
  decoded = example_decoder.decode(tf.reshape(serialized, []))
  frames = decoded[_fields.frames]
  frames = _with_checks(_size_checks(spec, frames, INPUT_NAME), frames)
  return frames, decoded.get(_fields.flow)


def _resize(spec: ServingInputSpec, frames: tf.Tensor,
            flow: Optional[tf.Tensor]):
  """Resizes as the eval input pipeline does (bilinear, rounded to uint8)."""
  height, width = spec.image_size
  frames, flow = augmentation.resize_clip(frames, [height, width], flow)
  frames = tf.cast(tf.round(tf.clip_by_value(frames, 0.0, 255.0)), tf.uint8)
  frames = tf.ensure_shape(frames, [spec.frames_per_clip, height, width, 3])
  if flow is not None:
    flow = tf.ensure_shape(flow, [spec.frames_per_clip, height, width, 2])
  return frames, flow
