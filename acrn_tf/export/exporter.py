"""Exports a trained detector as a SavedModel for serving (the OD API's).

`export_inference_graph` builds the model from the pipeline config, restores
a training checkpoint, and writes to the output directory:

  saved_model/      the SavedModel (version it for TensorFlow Serving by
                    copying it to `<model_base_path>/<version>/`)
  pipeline.config   the config the model was built from; its eval input
                    reader's frames_per_clip and frame_stride (video
                    frames) are the clip the model takes, checked against
                    the training job's pipeline.config beside the
                    checkpoint
  label_map.pbtxt   the model's classes, in the `item {}` form

The `serving_default` signature takes the input of `serving_inputs` and
returns, for a batch of one clip, the `DetectionResultFields`:
detection_boxes float32 `[1, N, 4]` normalised `[ymin, xmin, ymax, xmax]`,
detection_scores `[1, N]`, detection_classes `[1, N]` (label-map ids, as
floats), detection_multiclass_scores `[1, N, num_classes]` (column k is the
k-th smallest label-map id), num_detections `[1]`, and for ACRN models with a
relation map relation_heatmaps `[1, N, h, w]` (each detection's class
activation map for its top class). Rows past num_detections are zeros.

The SavedModel holds the model's variables and the traced inference graph
only (no Keras metadata), so loading it needs TensorFlow alone.
"""

import dataclasses
import os
import shutil
import tempfile
from typing import Dict, Optional, Tuple

from absl import logging
import tensorflow as tf

from acrn_tf.builders import config_util
from acrn_tf.builders import input_validation
from acrn_tf.builders import model_builder
from acrn_tf.core import checkpoint_paths
from acrn_tf.core import standard_fields as fields
from acrn_tf.data import label_map_util
from acrn_tf.export import serving_inputs
from acrn_tf.protos import pipeline_pb2
from acrn_tf.protos import s3dg_pb2

SAVED_MODEL_DIR = serving_inputs.SAVED_MODEL_DIR
LABEL_MAP_NAME = serving_inputs.LABEL_MAP_NAME
SIGNATURE_KEY = serving_inputs.SIGNATURE_KEY
# The largest frame side accepted by default, as a multiple of the model's.
DEFAULT_MAX_SIZE_FACTOR = 8


class ExportError(ValueError):
  """A checkpoint or config that cannot be exported."""


@dataclasses.dataclass(frozen=True)
class ExportResult:
  """Paths written by `export_inference_graph` and what was exported."""
  saved_model_dir: str
  pipeline_config_path: str
  label_map_path: str
  checkpoint_path: str
  input_spec: serving_inputs.ServingInputSpec
  output_keys: Tuple[str, ...]


def input_spec_for(config: pipeline_pb2.TrainEvalPipelineConfig,
                   input_type: str,
                   max_image_size: Optional[int] = None
                   ) -> serving_inputs.ServingInputSpec:
  """The serving input of `config`'s model (eval reader's clip settings)."""
  reader = config_util.eval_input_reader(config, fall_back_to_train=True)
  image_size = (int(reader.image_height), int(reader.image_width))
  extractor = config.model.video_faster_rcnn.feature_extractor
  return serving_inputs.ServingInputSpec(
      input_type=input_type,
      frames_per_clip=int(reader.frames_per_clip),
      frame_stride=max(int(reader.frame_stride), 1),
      image_size=image_size,
      use_flow=extractor.streams != s3dg_pb2.S3dgFeatureExtractor.RGB,
      max_image_size=int(max_image_size or
                         DEFAULT_MAX_SIZE_FACTOR * max(image_size)),
      label_ids=tuple(sorted(model_builder.model_label_map(config))))


def _restore(model, checkpoint_path: str) -> None:
  """Restores the model's variables; every one must be in the checkpoint."""
  try:
    status = tf.train.Checkpoint(model=model).read(checkpoint_path)
    status.assert_existing_objects_matched()
  except (AssertionError, ValueError) as e:
    first_line = str(e).strip().splitlines()[0]
    raise ExportError(
        f'checkpoint {checkpoint_path} does not hold this model\'s '
        f'variables (was it trained with this pipeline.config?): '
        f'{first_line}') from e
  status.expect_partial()


class DetectionModule(tf.Module):
  """The exported object: the model's variables and its serving function."""

  def __init__(self, model, spec: serving_inputs.ServingInputSpec):
    super().__init__(name='acrn_detector')
    # Only the variables are tracked: the SavedModel needs no Keras objects.
    self.model_variables = list(model.variables)
    self._spec = spec
    run_model = _inference_fn(model)

    def serve_clip(*args):
      return run_model(spec.model_inputs(*args))

    if spec.input_type == serving_inputs.VIDEO_TENSOR and spec.use_flow:
      def serve(input_tensor, flow):
        return serve_clip(input_tensor, flow)
    else:
      def serve(input_tensor):
        return serve_clip(input_tensor)
    self.serve = tf.function(serve, input_signature=spec.signature(),
                             autograph=False)


def _inference_fn(model):
  """inputs -> detections dict with named float32 outputs."""
  def run(inputs: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    detections = model.postprocess(
        model.predict(model.preprocess(inputs), training=False))
    return {key: tf.identity(tf.cast(value, tf.float32), name=key)
            for key, value in detections.items()}
  return run


def _replace_directory(source: str, target: str) -> None:
  """Moves `source` to `target`, replacing an old `target` whole."""
  if os.path.exists(target):
    old = tempfile.mkdtemp(prefix=f'.{os.path.basename(target)}.old-',
                           dir=os.path.dirname(target))
    os.replace(target, os.path.join(old, 'previous'))
    os.replace(source, target)
    shutil.rmtree(old, ignore_errors=True)
  else:
    os.replace(source, target)


def export_inference_graph(input_type: str,
                           config: pipeline_pb2.TrainEvalPipelineConfig,
                           trained_checkpoint: str,
                           output_directory: str,
                           max_image_size: Optional[int] = None,
                           config_path: str = 'pipeline config'
                           ) -> ExportResult:
  """Builds, restores and writes the SavedModel, config and label map.

  Args:
    input_type: one of `serving_inputs.INPUT_TYPES`.
    config: the (merged, validated) pipeline config.
    trained_checkpoint: a checkpoint prefix or a model_dir (its latest).
    output_directory: created if needed; `saved_model/` in it is replaced.
    max_image_size: the largest frame side the signature accepts (default
      8 x the model's input size).
    config_path: the config's file, named in errors.

  Returns:
    `ExportResult`.

  Raises:
    checkpoint_paths.CheckpointNotFoundError: no checkpoint there.
    ExportError: a checkpoint without this model's variables.
    serving_inputs.ServingInputError: an input type the model cannot take.
    config_util.ConfigError: a clip (frames_per_clip, frame_stride) other
      than the one in the pipeline.config beside the checkpoint, or a
      label map without num_classes classes.
  """
  spec = input_spec_for(config, input_type, max_image_size)
  checkpoint_path = checkpoint_paths.resolve(trained_checkpoint,
                                             'trained_checkpoint_dir')
  input_validation.check_trained_clip(config, config_path, checkpoint_path)
  input_validation.validate_label_maps(
      config, config_path, input_validation.readers_of(
          config, train=not config.eval_input_reader, evaluate=True))
  model = model_builder.build_with_variables(
      config, config_util.eval_input_reader(config, fall_back_to_train=True),
      is_training=False)
  _restore(model, checkpoint_path)
  logging.info('Restored %s; tracing the %s signature', checkpoint_path,
               input_type)
  module = DetectionModule(model, spec)
  concrete = module.serve.get_concrete_function()
  output_keys = tuple(sorted(concrete.structured_outputs))

  os.makedirs(output_directory, exist_ok=True)
  staging = tempfile.mkdtemp(prefix=f'.{SAVED_MODEL_DIR}.tmp-',
                             dir=output_directory)
  try:
    tf.saved_model.save(module, staging,
                        signatures={SIGNATURE_KEY: concrete})
    saved_model_dir = os.path.join(output_directory, SAVED_MODEL_DIR)
    _replace_directory(staging, saved_model_dir)
  finally:
    if os.path.exists(staging):
      shutil.rmtree(staging, ignore_errors=True)
  config_path = config_util.save_pipeline_config(config, output_directory)
  label_map_path = os.path.join(output_directory, LABEL_MAP_NAME)
  label_map_util.write_label_map(label_map_path,
                                 model_builder.model_label_map(config))
  logging.info('Exported %s (%s) with outputs %s', saved_model_dir,
               input_type, ', '.join(output_keys))
  return ExportResult(saved_model_dir, config_path, label_map_path,
                      checkpoint_path, spec, output_keys)


DETECTION_KEYS = (
    fields.DetectionResultFields.detection_boxes,
    fields.DetectionResultFields.detection_scores,
    fields.DetectionResultFields.detection_classes,
    fields.DetectionResultFields.detection_multiclass_scores,
    fields.DetectionResultFields.num_detections,
)
