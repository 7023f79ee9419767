"""exporter_main: a tf_example export of the tiny Base-Model, and refusals.

The tool's run() is called in this process (absl flags parsed from a list,
reset afterwards).
"""

import os

from absl import app
from absl import flags
import numpy as np
import pytest
import tensorflow as tf

from acrn_tf.builders import config_util
from acrn_tf.core import standard_fields as fields
from acrn_tf.data import label_map_util
from acrn_tf.builders import model_builder
from tests.data.input import sequence_example_fixtures as sx
from tests.tools import tool_import

_FLAGS = flags.FLAGS
REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BASE_CONFIG = os.path.join(REPO, 'configs', 'synthetic', 'base_tiny.config')


@pytest.fixture(name='main')
def _main():
  tool = tool_import.fresh('exporter_main')

  def main(args):
    _FLAGS.unparse_flags()
    _FLAGS(['exporter_main'] + args)
    return tool.run(['exporter_main'])
  yield main
  _FLAGS.unparse_flags()


@pytest.fixture(name='trained', scope='module')
def _trained(tmp_path_factory):
  """A label map, size overrides and a checkpoint of the tiny Base-Model."""
  root = tmp_path_factory.mktemp('trained')
  label_map = str(root / 'label_map.pbtxt')
  label_map_util.write_label_map(label_map,
                                 {i: f'class {i}' for i in range(1, 7)})
  overrides = [f'train_input_reader.label_map_path={label_map}',
               f'eval_input_reader.label_map_path={label_map}']
  for reader in ('train_input_reader', 'eval_input_reader'):
    overrides += [f'{reader}.frames_per_clip=4', f'{reader}.image_height=64',
                  f'{reader}.image_width=64']
  config = config_util.load_pipeline_config(BASE_CONFIG, overrides=overrides)
  model = model_builder.build_with_variables(
      config, config.eval_input_reader[0], is_training=False)
  prefix = tf.train.Checkpoint(model=model).write(str(root / 'ckpt-3'))
  return dict(root=root, overrides=overrides, model=model, prefix=prefix)


def test_tf_example_export_serves_a_record(trained, main, capsys, tmp_path):
  output = tmp_path / 'exported'
  result = main(['--input_type=tf_example',
                 f'--pipeline_config_path={BASE_CONFIG}',
                 f'--trained_checkpoint_dir={trained["prefix"]}',
                 f'--output_directory={output}']
                + [f'--override={o}' for o in trained['overrides']])
  out = capsys.readouterr().out
  assert f'Exported {trained["prefix"]}' in out
  assert ('input:       tf_example, 4 frames every 1 video frames, resized '
          'to 64x64') in out
  assert 'relation_heatmaps' not in out  # the Base-Model has no relation map
  assert sorted(os.listdir(output)) == ['label_map.pbtxt', 'pipeline.config',
                                        'saved_model']

  # A record of 6 stored 32 x 48 frames; T = 4 around stored keyframe 3 is
  # stored frames 1..4, decoded and resized to 64 x 64 by hand here.
  stored = sx.make_frames(6)
  record = sx.sequence_example(stored, sx.BOXES[:1], sx.LABELS[:1],
                               keyframe_index=3)
  serve = tf.saved_model.load(result.saved_model_dir).signatures[
      'serving_default']
  served = serve(input_tensor=tf.constant([record]))
  decoded = tf.stack([tf.io.decode_jpeg(sx.encode_jpeg(f))
                      for f in stored[1:5]])
  clip = tf.cast(tf.round(tf.clip_by_value(
      tf.image.resize(tf.cast(decoded, tf.float32), (64, 64)), 0, 255)),
                 tf.uint8)
  model = trained['model']
  # Traced like the export, so both run the same kernels: with random
  # weights many proposals score alike, and eager rounding could reorder them.
  expected = tf.function(lambda frames: model.postprocess(model.predict(
      model.preprocess({fields.InputDataFields.frames: frames}),
      training=False)), autograph=False)(clip[tf.newaxis])
  assert set(served) == set(expected)
  for key, value in expected.items():
    np.testing.assert_allclose(served[key].numpy(), value.numpy(), atol=1e-4,
                               err_msg=key)


def test_missing_flags_are_a_usage_error(main):
  with pytest.raises(app.UsageError, match='missing flags: '
                     '--trained_checkpoint_dir, --output_directory'):
    main([f'--pipeline_config_path={BASE_CONFIG}'])


def test_bad_inputs_exit_one_with_a_message(trained, main, capsys, tmp_path):
  common = [f'--pipeline_config_path={BASE_CONFIG}',
            f'--output_directory={tmp_path / "out"}']
  common += [f'--override={o}' for o in trained['overrides']]
  with pytest.raises(SystemExit) as exit_info:
    main(common + [f'--trained_checkpoint_dir={tmp_path}'])
  assert exit_info.value.code == 1
  assert 'no checkpoint in this directory' in capsys.readouterr().err

  with pytest.raises(SystemExit) as exit_info:
    main(common + ['--input_type=encoded_frames',
                   f'--trained_checkpoint_dir={trained["prefix"]}',
                   '--override=model.video_faster_rcnn.feature_extractor.'
                   'streams=RGB_AND_FLOW',
                   '--override=train_input_reader.use_flow=true',
                   '--override=eval_input_reader.use_flow=true'])
  assert exit_info.value.code == 1
  assert 'the graph cannot compute optical flow' in capsys.readouterr().err
  assert not os.path.exists(tmp_path / 'out')
