r"""Prints which input pixels one unit of an S3D-G endpoint depends on.

  python tools/receptive_field.py \
      --pipeline_config_path configs/synthetic/acrn_tiny.config \
      [--endpoint Mixed_4f] [--input_height 320 --input_width 320] [--frames 8]

Builds the config's S3D-G (RGB tower, random weights, inference mode) and
measures, by gradient, the box of input frames, rows and columns the centre
unit of --endpoint depends on (`acrn_tf.models.receptive_field`): as
configured and, when the config gates, without self-gating. The input
defaults to the config's train clip; give a larger input to see the
whole receptive field rather than the frame's edges.
"""

import sys

if not __package__:  # python tools/NAME.py: put the checkout on sys.path.
  import _bootstrap  # pylint: disable=g-import-not-at-top,unused-import

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags

from acrn_tf.builders import config_util  # pylint: disable=g-import-not-at-top
from acrn_tf.builders import model_builder
from acrn_tf.models import receptive_field
from acrn_tf.models import s3dg

_PIPELINE_CONFIG_PATH = flags.DEFINE_string(
    'pipeline_config_path', None,
    'The pipeline.config whose S3D-G is measured.', required=True)
_ENDPOINT = flags.DEFINE_string(
    'endpoint', None, 'S3D-G endpoint (default: the config\'s '
    'feature_endpoint).')
_INPUT_HEIGHT = flags.DEFINE_integer(
    'input_height', None, 'Input height (default: the train_input_reader\'s '
    'image_height).')
_INPUT_WIDTH = flags.DEFINE_integer(
    'input_width', None, 'Input width (default: the train_input_reader\'s '
    'image_width).')
_FRAMES = flags.DEFINE_integer(
    'frames', None, 'Input frames (default: the train_input_reader\'s '
    'frames_per_clip).')
_NUM_INPUTS = flags.DEFINE_integer(
    'num_inputs', 2, 'Random clips measured together.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the weights and the clips.')


def describe(extent: receptive_field.Extent) -> str:
  """'frames 0..7, rows 58..292, columns 58..292: 235 x 235 px of ...'."""
  frames, height, width = extent.size
  whole = (' (the whole input)' if extent.whole_input else
           f' of {extent.input_shape[1]} x {extent.input_shape[2]}')
  return (f'frames {extent.frames[0]}..{extent.frames[1]}, rows '
          f'{extent.rows[0]}..{extent.rows[1]}, columns '
          f'{extent.columns[0]}..{extent.columns[1]}: {height} x {width} px'
          f'{whole}, {frames} of {extent.input_shape[0]} frames')


def _main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments {argv[1:]}')
  try:
    config = config_util.read_pipeline_config(_PIPELINE_CONFIG_PATH.value)
  except ValueError as e:  # ConfigError: the file, line and field named.
    raise SystemExit(str(e)) from e
  model = config.model
  if model.WhichOneof('model') != 'video_faster_rcnn':
    raise app.UsageError(f'{_PIPELINE_CONFIG_PATH.value}: model has no '
                         'video_faster_rcnn with an S3D-G feature_extractor')
  extractor = model.video_faster_rcnn.feature_extractor
  endpoint = _ENDPOINT.value or extractor.feature_endpoint
  if endpoint not in s3dg.ENDPOINTS:
    raise app.UsageError(f'--endpoint: {endpoint!r} is not an S3D-G '
                         f'endpoint ({", ".join(s3dg.ENDPOINTS)})')
  reader = config.train_input_reader

  def value_or(flag, default):
    return default if flag.value is None else flag.value

  height = value_or(_INPUT_HEIGHT, reader.image_height)
  width = value_or(_INPUT_WIDTH, reader.image_width)
  frames = value_or(_FRAMES, reader.frames_per_clip)
  for flag, value in (('input_height', height), ('input_width', width),
                      ('frames', frames), ('num_inputs', _NUM_INPUTS.value)):
    if value < 1:
      raise app.UsageError(f'--{flag} must be >= 1, got {value}')

  kwargs = model_builder.s3dg_kwargs(extractor)
  print(f'S3D-G of {_PIPELINE_CONFIG_PATH.value} (RGB tower, depth '
        f'multiplier {kwargs["depth_multiplier"]}, separable temporal convs '
        f'from {kwargs["temporal_conv_startat"] or "nowhere"}, gating from '
        f'{kwargs["gating_startat"] or "nowhere"}), random weights, inference '
        f'mode, input {frames} x {height} x {width}:')
  try:
    extents = receptive_field.measure_with_and_without_gating(
        kwargs, endpoint, frames, height, width,
        num_inputs=_NUM_INPUTS.value, seed=_SEED.value)
  except ValueError as e:
    raise SystemExit(f'{endpoint}: {e}') from e
  for name, extent in extents:
    print(f'  {endpoint} unit {extent.unit} of a {extent.map_shape} map, '
          f'{name}: {describe(extent)}')
  if (height, width) != (reader.image_height, reader.image_width):
    print(f'The config\'s train clips are {reader.frames_per_clip} x '
          f'{reader.image_height} x {reader.image_width}.')


def main():
  app.run(_main)


if __name__ == '__main__':
  main()
