"""Detectors that map one clip to detections: an export or a checkpoint.

Both implement `Detector.detect(frames, flow=None)`:

  frames  uint8 `[T, H, W, 3]` RGB, any H and W (resized to the model's
          input size as the eval input pipeline resizes);
  flow    float32 `[T, H, W, 2]` (x, y) pixels per frame, for models with a
          flow stream (`uses_flow`), else None;

and return numpy arrays without the batch dimension, only the first
`num_detections` rows, keyed by `DetectionResultFields`:
detection_boxes `[n, 4]` normalised `[ymin, xmin, ymax, xmax]`,
detection_scores `[n]`, detection_classes `[n]` int64 label-map ids,
detection_multiclass_scores `[n, C]` (column k is the k-th smallest
label-map id) and, when the model gives them, relation_heatmaps `[n, h, w]`.

`SavedModelDetector` loads a directory written by the exporter
(`saved_model/`, `pipeline.config`, `label_map.pbtxt`) and calls its
`serving_default` signature; `CheckpointDetector` builds the model from a
pipeline config and restores a training checkpoint.
"""

import abc
import os
from typing import Dict, Mapping, Optional, Tuple

from absl import logging
import numpy as np
import tensorflow as tf

from acrn_tf.builders import config_util
from acrn_tf.builders import input_validation
from acrn_tf.core import checkpoint_paths
from acrn_tf.core import standard_fields
from acrn_tf.data import label_map_util
from acrn_tf.data.conversion import video_io
from acrn_tf.data.input import augmentation
from acrn_tf.export import serving_inputs
from acrn_tf.protos import pipeline_pb2
from acrn_tf.protos import s3dg_pb2

_det = standard_fields.DetectionResultFields
_inputs = standard_fields.InputDataFields

# The export directory's layout, as `export.exporter` writes it.
SAVED_MODEL_DIR = serving_inputs.SAVED_MODEL_DIR
PIPELINE_CONFIG_NAME = config_util.PIPELINE_CONFIG_NAME
LABEL_MAP_NAME = serving_inputs.LABEL_MAP_NAME
SIGNATURE_KEY = serving_inputs.SIGNATURE_KEY
# The serving signature's input names and input types.
INPUT_NAME = serving_inputs.INPUT_NAME
FLOW_INPUT_NAME = serving_inputs.FLOW_INPUT_NAME
VIDEO_TENSOR = serving_inputs.VIDEO_TENSOR
ENCODED_FRAMES = serving_inputs.ENCODED_FRAMES
TF_EXAMPLE = serving_inputs.TF_EXAMPLE
# Ops that only a tf_example signature's graph holds.
_SEQUENCE_EXAMPLE_OPS = ('ParseSequenceExample', 'ParseSequenceExampleV2',
                         'ParseSingleSequenceExample')
# Per-detection outputs returned, in this order; num_detections is used to
# cut them and then dropped.
OUTPUT_KEYS = (_det.detection_boxes, _det.detection_scores,
               _det.detection_classes, _det.detection_multiclass_scores,
               _det.relation_heatmaps)


class DetectorError(ValueError):
  """A model directory, checkpoint or clip that cannot be used."""


def config_uses_flow(config: pipeline_pb2.TrainEvalPipelineConfig) -> bool:
  """Whether the model's feature extractor has a flow stream."""
  streams = config.model.video_faster_rcnn.feature_extractor.streams
  return streams != s3dg_pb2.S3dgFeatureExtractor.RGB


def unbatch_detections(outputs: Mapping[str, np.ndarray]
                       ) -> Dict[str, np.ndarray]:
  """A batch-of-one detection dict as per-detection numpy arrays.

  Args:
    outputs: DetectionResultFields -> arrays with a leading batch dim of 1,
      including num_detections `[1]`.

  Returns:
    The `OUTPUT_KEYS` present, first num_detections rows, batch dim
    removed; detection_classes as int64.
  """
  num = int(round(float(np.asarray(outputs[_det.num_detections]).reshape(-1)
                        [0])))
  result = {}
  for key in OUTPUT_KEYS:
    if key in outputs:
      value = np.asarray(outputs[key])[0][:num]
      if key == _det.detection_classes:
        value = np.round(value).astype(np.int64)
      result[key] = value
  return result


def _graph_op_types(graph: tf.Graph) -> set:
  """The op types of a graph and of every function in its library."""
  graph_def = graph.as_graph_def()
  types = {node.op for node in graph_def.node}
  for function in graph_def.library.function:
    types.update(node.op for node in function.node_def)
  return types


class Detector(abc.ABC):
  """One clip in, its keyframe's detections out (module docstring)."""

  def __init__(self, frames_per_clip: int, frame_stride: int,
               image_size: Tuple[int, int], uses_flow: bool,
               label_map: Mapping[int, str]):
    self._frames_per_clip = int(frames_per_clip)
    self._frame_stride = max(int(frame_stride), 1)
    self._image_size = (int(image_size[0]), int(image_size[1]))
    self._uses_flow = bool(uses_flow)
    self._label_map = dict(sorted(label_map.items()))
    # Subclasses that load a model say whether it gives heat maps.
    self._has_heatmaps = False

  @property
  def frames_per_clip(self) -> int:
    """T, the frames of a clip."""
    return self._frames_per_clip

  @property
  def frame_stride(self) -> int:
    """Video frames between two clip frames."""
    return self._frame_stride

  @property
  def image_size(self) -> Tuple[int, int]:
    """(height, width) in pixels the model resizes frames to."""
    return self._image_size

  @property
  def uses_flow(self) -> bool:
    """Whether `detect` needs the clip's optical flow."""
    return self._uses_flow

  @property
  def has_heatmaps(self) -> bool:
    """Whether `detect` returns relation_heatmaps (relation-map models)."""
    return self._has_heatmaps

  @property
  def label_map(self) -> Dict[int, str]:
    """Label-map id -> class name, ascending ids."""
    return dict(self._label_map)

  @property
  def label_ids(self) -> Tuple[int, ...]:
    """The label-map ids, ascending (the multiclass score columns)."""
    return tuple(self._label_map)

  def detect(self, frames: np.ndarray,
             flow: Optional[np.ndarray] = None) -> Dict[str, np.ndarray]:
    """Detects the actors and actions of the clip's keyframe.

    Args:
      frames: uint8 `[T, H, W, 3]` RGB.
      flow: float32 `[T, H, W, 2]` pixels per frame when `uses_flow`.

    Returns:
      The per-detection dict of the module docstring.

    Raises:
      DetectorError: a clip of the wrong shape or dtype, missing flow, or a
        model that refuses the input.
    """
    frames, flow = self._check_clip(frames, flow)
    detections = self._detect(frames, flow)
    scores = detections.get(_det.detection_multiclass_scores)
    if scores is not None and scores.shape[-1] != len(self._label_map):
      raise DetectorError(
          f'{_det.detection_multiclass_scores}: the model gives '
          f'{scores.shape[-1]} class scores, the label map has '
          f'{len(self._label_map)} classes')
    return detections

  @abc.abstractmethod
  def _detect(self, frames: np.ndarray,
              flow: Optional[np.ndarray]) -> Dict[str, np.ndarray]:
    """`detect` on a checked clip."""

  def _check_clip(self, frames, flow):
    frames = np.asarray(frames)
    expected = f'uint8 [{self._frames_per_clip}, height, width, 3]'
    if (frames.dtype != np.uint8 or frames.ndim != 4 or
        frames.shape[0] != self._frames_per_clip or frames.shape[-1] != 3):
      raise DetectorError(f'frames: expected {expected}, got '
                          f'{frames.dtype} {list(frames.shape)}')
    if not self._uses_flow:
      return frames, None
    if flow is None:
      raise DetectorError('flow: the model has a flow stream; give the '
                          'clip\'s optical flow')
    flow = np.asarray(flow, np.float32)
    if flow.shape != frames.shape[:3] + (2,):
      raise DetectorError(
          f'flow: expected float32 {list(frames.shape[:3]) + [2]} (the '
          f'frames\' T, height, width), got {list(flow.shape)}')
    return frames, flow


def _read_label_map(path: str, num_classes: int) -> Dict[int, str]:
  if os.path.exists(path):
    return label_map_util.read_label_map(path)
  logging.warning('%s does not exist: classes are named by their ids 1..%d',
                  path, num_classes)
  return {i: str(i) for i in range(1, num_classes + 1)}


class SavedModelDetector(Detector):
  """A model exported by `exporter_main` (its `serving_default` signature).

  The signature's input `input_tensor` is either `video_tensor` (uint8
  `[1, T, H, W, 3]`, plus `flow` float32 `[1, T, H, W, 2]` for flow
  models) or `encoded_frames` (string `[T]`, one JPEG per frame); a
  `tf_example` export is refused. The type is told from the input's spec:
  uint8 is video_tensor; a string of shape `[1]` is tf_example; another
  string is encoded_frames, unless its rank is unknown and the graph parses
  SequenceExamples (a tf_example export whose spec leaves the shape open).
  """

  def __init__(self, export_dir: str):
    """Loads the export.

    Args:
      export_dir: the directory holding `saved_model/`, `pipeline.config`
        and `label_map.pbtxt` (the SavedModel directory itself is accepted
        too when the two files are beside it).

    Raises:
      DetectorError: naming the path, when the directory, the SavedModel,
        its `serving_default` signature or the config is missing, or the
        export takes tf_example input.
    """
    if not os.path.isdir(export_dir):
      raise DetectorError(f'{export_dir}: no such model directory')
    saved_model_dir = os.path.join(export_dir, SAVED_MODEL_DIR)
    if (not tf.saved_model.contains_saved_model(saved_model_dir) and
        tf.saved_model.contains_saved_model(export_dir)):
      saved_model_dir = export_dir
      export_dir = os.path.dirname(os.path.abspath(export_dir))
    if not tf.saved_model.contains_saved_model(saved_model_dir):
      raise DetectorError(
          f'{export_dir}: no SavedModel in {saved_model_dir} (expected the '
          'directory exporter_main writes: saved_model/, pipeline.config, '
          'label_map.pbtxt)')
    config_path = os.path.join(export_dir, PIPELINE_CONFIG_NAME)
    if not os.path.exists(config_path):
      raise DetectorError(f'{export_dir}: no {PIPELINE_CONFIG_NAME} beside '
                          f'the SavedModel (it gives the clip length)')
    config = config_util.read_pipeline_config(config_path)
    # The clip the export was made for (exporter's choice of reader).
    reader = config_util.eval_input_reader(config, config_path,
                                           fall_back_to_train=True)
    num_classes = config.model.video_faster_rcnn.action_head.num_classes
    super().__init__(
        frames_per_clip=reader.frames_per_clip,
        frame_stride=reader.frame_stride,
        image_size=(reader.image_height, reader.image_width),
        uses_flow=config_uses_flow(config),
        label_map=_read_label_map(os.path.join(export_dir, LABEL_MAP_NAME),
                                  num_classes))
    self.export_dir = export_dir
    try:
      loaded = tf.saved_model.load(saved_model_dir)
    except (OSError, ValueError, tf.errors.OpError) as e:
      raise DetectorError(f'{saved_model_dir}: cannot load the SavedModel: '
                          f'{e}') from e
    if SIGNATURE_KEY not in loaded.signatures:
      found = ', '.join(sorted(loaded.signatures)) or 'none'
      raise DetectorError(f'{saved_model_dir}: the SavedModel has no '
                          f'{SIGNATURE_KEY!r} signature (signatures: {found})')
    self._loaded = loaded  # Keeps the signature's variables alive.
    self._signature = loaded.signatures[SIGNATURE_KEY]
    self._has_heatmaps = (_det.relation_heatmaps in
                          self._signature.structured_outputs)
    self.input_type = self._input_type(saved_model_dir)
    logging.info('Loaded %s (%s input, %d frames every %d, flow: %s)',
                 saved_model_dir, self.input_type, self.frames_per_clip,
                 self.frame_stride, self.uses_flow)

  def _input_type(self, saved_model_dir: str) -> str:
    """video_tensor or encoded_frames, from the signature's input spec."""
    _, specs = self._signature.structured_input_signature
    if INPUT_NAME not in specs:
      raise DetectorError(
          f'{saved_model_dir}: signature {SIGNATURE_KEY!r} has no input '
          f'{INPUT_NAME!r} (inputs: {", ".join(sorted(specs))})')
    spec = specs[INPUT_NAME]
    if spec.dtype == tf.uint8:
      if self.uses_flow and FLOW_INPUT_NAME not in specs:
        raise DetectorError(
            f'{saved_model_dir}: the model has a flow stream but signature '
            f'{SIGNATURE_KEY!r} has no {FLOW_INPUT_NAME!r} input')
      return VIDEO_TENSOR
    if spec.dtype != tf.string:
      raise DetectorError(
          f'{saved_model_dir}: input {INPUT_NAME!r} is {spec.dtype.name}; '
          'expected uint8 (video_tensor) or string (encoded_frames)')
    is_example = spec.shape.rank is not None and spec.shape.as_list() == [1]
    if spec.shape.rank is None:
      is_example = bool(_graph_op_types(self._signature.graph) &
                        set(_SEQUENCE_EXAMPLE_OPS))
    if is_example:
      raise DetectorError(
          f'{saved_model_dir}: the model was exported with tf_example input, '
          'which takes stored records, not video; export it with '
          '--input_type video_tensor or encoded_frames for video inference')
    if self.uses_flow:
      raise DetectorError(
          f'{saved_model_dir}: the model has a flow stream but takes '
          'encoded_frames, which carry no flow; export it with video_tensor')
    return ENCODED_FRAMES

  def _detect(self, frames, flow):
    if self.input_type == VIDEO_TENSOR:
      kwargs = {INPUT_NAME: tf.constant(frames[np.newaxis])}
      if flow is not None:
        kwargs[FLOW_INPUT_NAME] = tf.constant(flow[np.newaxis])
    else:
      kwargs = {INPUT_NAME: tf.constant([video_io.encode_jpeg(f)
                                         for f in frames])}
    try:
      outputs = self._signature(**kwargs)
    except (tf.errors.InvalidArgumentError, ValueError, TypeError) as e:
      message = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
      raise DetectorError(f'{self.export_dir}: the model refused the clip '
                          f'{list(frames.shape)}: {message}') from e
    if _det.num_detections not in outputs:
      raise DetectorError(f'{self.export_dir}: signature {SIGNATURE_KEY!r} '
                          f'has no {_det.num_detections!r} output')
    return unbatch_detections({k: v.numpy() for k, v in outputs.items()})


class CheckpointDetector(Detector):
  """A model built from its pipeline config and a training checkpoint."""

  def __init__(self, pipeline_config_path: str, checkpoint_path: str):
    """Builds the model and restores its weights.

    Args:
      pipeline_config_path: the pipeline.config the model was trained with.
      checkpoint_path: a checkpoint prefix, or a directory (its latest
        checkpoint).

    Raises:
      checkpoint_paths.CheckpointNotFoundError: no checkpoint there.
      DetectorError: a checkpoint that lacks the model's variables.
      config_util.ConfigError: a bad config, or one whose clip differs from
        the training job's pipeline.config beside the checkpoint.
    """
    # Deferred: building models pulls in the model stack (Model Garden),
    # which a SavedModel does not need.
    # pylint: disable-next=g-import-not-at-top
    from acrn_tf.builders import model_builder
    config = config_util.read_pipeline_config(pipeline_config_path)
    reader = config_util.eval_input_reader(config, pipeline_config_path,
                                           fall_back_to_train=True)
    self.checkpoint_path = checkpoint_paths.resolve(checkpoint_path,
                                                    'checkpoint')
    input_validation.check_trained_clip(config, pipeline_config_path,
                                        self.checkpoint_path)
    num_classes = config.model.video_faster_rcnn.action_head.num_classes
    try:
      label_map = model_builder.model_label_map(config)
    except (OSError, ValueError) as e:
      logging.warning('%s: cannot read the label map (%s): classes are named '
                      'by their ids', pipeline_config_path, e)
      label_map = {i: str(i) for i in range(1, num_classes + 1)}
    super().__init__(
        frames_per_clip=reader.frames_per_clip,
        frame_stride=reader.frame_stride,
        image_size=(reader.image_height, reader.image_width),
        uses_flow=config_uses_flow(config), label_map=label_map)
    model = model_builder.build_with_variables(config, reader,
                                               is_training=False)
    status = tf.train.Checkpoint(model=model).read(self.checkpoint_path)
    try:
      status.assert_existing_objects_matched()
    except AssertionError as e:
      first_line = str(e).strip().splitlines()[0]
      raise DetectorError(
          f'checkpoint {self.checkpoint_path} does not hold the variables of '
          f'the model of {pipeline_config_path}: {first_line}') from e
    status.expect_partial()
    logging.info('Restored %s into the model of %s', self.checkpoint_path,
                 pipeline_config_path)
    self._model = model
    relation_module = getattr(model, 'relation_module', None)
    self._has_heatmaps = bool(relation_module is not None and
                              relation_module.has_relation_maps)
    height, width = self.image_size
    frame_spec = tf.TensorSpec([1, self.frames_per_clip, None, None, 3],
                               tf.uint8)
    flow_spec = tf.TensorSpec([1, self.frames_per_clip, None, None, 2],
                              tf.float32)

    def run(frames, flow=None):
      # Resized as the eval input pipeline resizes (bilinear, then uint8).
      frames, flow = augmentation.resize_clip(
          frames[0], tf.constant([height, width]),
          None if flow is None else flow[0])
      # The model needs static shapes (its 3D convolutions pad by them).
      clip_shape = [self.frames_per_clip, height, width]
      frames = tf.ensure_shape(frames, clip_shape + [3])
      inputs = {_inputs.frames: tf.cast(
          tf.round(tf.clip_by_value(frames, 0.0, 255.0)), tf.uint8)[None]}
      if flow is not None:
        inputs[_inputs.flow] = tf.ensure_shape(flow, clip_shape + [2])[None]
      outputs = model(inputs, training=False)
      return {key: tf.cast(value, tf.float32)
              for key, value in outputs.items()}

    if self.uses_flow:
      self._run = tf.function(run, input_signature=[frame_spec, flow_spec],
                              autograph=False)
    else:
      self._run = tf.function(lambda frames: run(frames),
                              input_signature=[frame_spec], autograph=False)

  def _detect(self, frames, flow):
    args = [tf.constant(frames[np.newaxis])]
    if flow is not None:
      args.append(tf.constant(flow[np.newaxis]))
    outputs = self._run(*args)
    return unbatch_detections({k: v.numpy() for k, v in outputs.items()})

