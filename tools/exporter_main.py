r"""Exports a trained action detector as a SavedModel (the OD API's
exporter_main_v2.py).

  python tools/exporter_main.py \
    --input_type video_tensor \
    --pipeline_config_path workspace/models/acrn_tiny/pipeline.config \
    --trained_checkpoint_dir workspace/models/acrn_tiny \
    --output_directory workspace/exported/acrn_tiny

Writes <output_directory>/saved_model, pipeline.config and label_map.pbtxt.
Input types: video_tensor (uint8 [1, T, H, W, 3], plus `flow` for models
with a flow stream), encoded_frames (string [T] of JPEG/PNG frames, RGB
models), tf_example (string [1], a serialized SequenceExample). See
docs/serving.md for serving the result.
"""

import sys

if not __package__:  # python tools/NAME.py: put the checkout on sys.path.
  import _bootstrap  # pylint: disable=g-import-not-at-top,unused-import

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags

from acrn_tf.builders import config_util
from acrn_tf.data import label_map_util
from acrn_tf.export import exporter
from acrn_tf.export import serving_inputs

_INPUT_TYPE = flags.DEFINE_enum(
    'input_type', serving_inputs.VIDEO_TENSOR, list(serving_inputs.INPUT_TYPES),
    'The serving signature\'s input.')
_PIPELINE_CONFIG_PATH = flags.DEFINE_string(
    'pipeline_config_path', None, 'The pipeline.config the model was trained '
    'with (model_main writes one into its model_dir).')
_TRAINED_CHECKPOINT_DIR = flags.DEFINE_string(
    'trained_checkpoint_dir', None, 'A model_dir (its latest checkpoint is '
    'exported) or a checkpoint prefix such as model_dir/ckpt-300.')
_OUTPUT_DIRECTORY = flags.DEFINE_string(
    'output_directory', None, 'Where saved_model/, pipeline.config and '
    'label_map.pbtxt go.')
_CONFIG_OVERRIDE = flags.DEFINE_string(
    'config_override', '', 'A text-format pipeline config merged over the '
    'file.')
_OVERRIDE = flags.DEFINE_multi_string(
    'override', [], 'key=value overrides of config fields (repeatable).')
_MAX_IMAGE_SIZE = flags.DEFINE_integer(
    'max_image_size', None, 'Largest frame side the signature accepts '
    f'(default {exporter.DEFAULT_MAX_SIZE_FACTOR} x the model\'s input size).')

_REQUIRED = ('pipeline_config_path', 'trained_checkpoint_dir',
             'output_directory')


def run(argv):
  """Exports per the flags; returns the `ExportResult`."""
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  missing = [name for name in _REQUIRED if not flags.FLAGS[name].value]
  if missing:
    raise app.UsageError(
        f'missing flags: {", ".join("--" + name for name in missing)}')
  try:
    config = config_util.load_pipeline_config(
        _PIPELINE_CONFIG_PATH.value, _CONFIG_OVERRIDE.value, _OVERRIDE.value)
    result = exporter.export_inference_graph(
        _INPUT_TYPE.value, config, _TRAINED_CHECKPOINT_DIR.value,
        _OUTPUT_DIRECTORY.value, _MAX_IMAGE_SIZE.value,
        config_path=_PIPELINE_CONFIG_PATH.value)
  except (ValueError, OSError, label_map_util.LabelMapError) as e:
    print(f'exporter_main: {e}', file=sys.stderr)
    sys.exit(1)
  spec = result.input_spec
  print(f'Exported {result.checkpoint_path}\n'
        f'  SavedModel:  {result.saved_model_dir}\n'
        f'  config:      {result.pipeline_config_path}\n'
        f'  label map:   {result.label_map_path}\n'
        f'  input:       {spec.input_type}, {spec.frames_per_clip} frames '
        f'every {spec.frame_stride} video frames, '
        f'resized to {spec.image_size[0]}x{spec.image_size[1]}, at most '
        f'{spec.max_image_size} px a side'
        f'{", with flow" if spec.use_flow else ""}\n'
        f'  outputs:     {", ".join(result.output_keys)}')
  return result


def _main(argv):
  run(argv)


def main():
  app.run(_main)


if __name__ == '__main__':
  main()
