"""Exports the tiny ACRN and serves it from a process that has only TensorFlow.

One export (video_tensor) is shared by the tests of this file: tracing the
model is what costs time.
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from acrn_tf.builders import config_util
from acrn_tf.builders import model_builder
from acrn_tf.core import checkpoint_paths
from acrn_tf.core import standard_fields as fields
from acrn_tf.data import label_map_util
from acrn_tf.export import exporter
from acrn_tf.export import serving_inputs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
LABELS = {1: 'catch', 2: 'throw', 3: 'pass', 4: 'hold', 5: 'look at',
          6: 'idle'}
FRAMES, HEIGHT, WIDTH = 4, 64, 64

# Runs in a fresh interpreter: loads the export with TensorFlow alone and
# writes the serving outputs next to the input clip.
_CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf
    export_dir, clip_path, out_path = sys.argv[1:4]
    serve = tf.saved_model.load(export_dir).signatures['serving_default']
    outputs = serve(input_tensor=tf.constant(np.load(clip_path)))
    assert not any(name.startswith('acrn_tf') for name in sys.modules)
    np.savez(out_path, **{k: v.numpy() for k, v in outputs.items()})
""")


def _config(label_map_path):
  path = os.path.join(REPO, 'configs', 'synthetic', 'acrn_tiny.config')
  overrides = [f'train_input_reader.label_map_path={label_map_path}',
               f'eval_input_reader.label_map_path={label_map_path}']
  for reader in ('train_input_reader', 'eval_input_reader'):
    overrides += [f'{reader}.frames_per_clip={FRAMES}',
                  f'{reader}.image_height={HEIGHT}',
                  f'{reader}.image_width={WIDTH}']
  return config_util.load_pipeline_config(path, overrides=overrides)


def _write_checkpoint(config, directory):
  tf.random.set_seed(7)
  model = model_builder.build_with_variables(
      config, config.eval_input_reader[0], is_training=False)
  manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=model),
                                       directory, max_to_keep=1)
  manager.save(checkpoint_number=5)
  return model


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
  root = tmp_path_factory.mktemp('export')
  label_map_path = str(root / 'label_map.pbtxt')
  label_map_util.write_label_map(label_map_path, LABELS)
  config = _config(label_map_path)
  model = _write_checkpoint(config, str(root / 'model_dir'))
  result = exporter.export_inference_graph(
      serving_inputs.VIDEO_TENSOR, config, str(root / 'model_dir'),
      str(root / 'exported'), max_image_size=256)
  return root, config, model, result


@pytest.fixture(scope='module')
def serve(exported):
  """The export's serving function, loaded once for the tests below."""
  loaded = tf.saved_model.load(exported[3].saved_model_dir)
  yield loaded.signatures[exporter.SIGNATURE_KEY]
  del loaded  # kept alive while the function is in use


def _clip(seed=0, frames=FRAMES, height=HEIGHT, width=WIDTH):
  rng = np.random.default_rng(seed)
  return rng.integers(0, 256, (1, frames, height, width, 3), dtype=np.uint8)


def test_writes_saved_model_config_and_label_map(exported):
  root, config, _, result = exported
  assert result.saved_model_dir == str(root / 'exported' / 'saved_model')
  assert os.path.exists(os.path.join(result.saved_model_dir,
                                     'saved_model.pb'))
  assert result.checkpoint_path.endswith('ckpt-5')
  assert label_map_util.read_label_map(result.label_map_path) == LABELS
  assert config_util.read_pipeline_config(
      result.pipeline_config_path) == config
  assert set(result.output_keys) == set(exporter.DETECTION_KEYS) | {
      fields.DetectionResultFields.relation_heatmaps}
  # Nothing half-written is left beside the export.
  assert sorted(os.listdir(root / 'exported')) == [
      'label_map.pbtxt', 'pipeline.config', 'saved_model']


def test_fresh_process_gives_the_in_process_detections(exported, tmp_path):
  _, _, model, result = exported
  clip = _clip()
  clip_path = str(tmp_path / 'clip.npy')
  np.save(clip_path, clip)
  out_path = str(tmp_path / 'out.npz')
  environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  environment.pop('PYTHONPATH', None)
  child = subprocess.run(
      [sys.executable, '-c', _CHILD, result.saved_model_dir, clip_path,
       out_path], capture_output=True, text=True, env=environment,
      cwd=str(tmp_path), check=False)
  assert child.returncode == 0, child.stderr[-3000:]
  served = dict(np.load(out_path))

  # Traced like the export, so both run the same kernels: with random
  # weights many proposals score alike, and eager rounding could reorder them.
  expected = tf.function(lambda frames: model.postprocess(model.predict(
      model.preprocess({fields.InputDataFields.frames: frames}),
      training=False)), autograph=False)(tf.constant(clip))
  assert set(served) == set(expected)
  for key, value in expected.items():
    np.testing.assert_allclose(served[key], value.numpy(), atol=1e-4,
                               err_msg=key)
  num = int(served[fields.DetectionResultFields.num_detections][0])
  assert num > 0
  heatmaps = served[fields.DetectionResultFields.relation_heatmaps]
  assert heatmaps.shape[:2] == (1, 16)
  assert np.abs(heatmaps[0, :num]).sum() > 0
  assert not heatmaps[0, num:].any()


def test_larger_frames_are_resized_in_the_graph(serve):
  clip = _clip(seed=1)
  # Each pixel repeated 2 x 2: halving it bilinearly (half-pixel centres)
  # samples between two equal pixels, so the graph gives back `clip` exactly.
  large = np.repeat(np.repeat(clip, 2, axis=2), 2, axis=3)
  from_large = serve(input_tensor=tf.constant(large))
  direct = serve(input_tensor=tf.constant(clip))
  for key, value in direct.items():
    np.testing.assert_allclose(from_large[key].numpy(), value.numpy(),
                               atol=1e-5, err_msg=key)


@pytest.mark.parametrize('shape, message', [
    ((FRAMES, HEIGHT, WIDTH, 3), 'input_tensor: expected rank 5'),
    ((1, FRAMES + 1, HEIGHT, WIDTH, 3),
     f'input_tensor: expected {FRAMES} frames'),
    ((2, FRAMES, HEIGHT, WIDTH, 3), 'input_tensor: expected a batch of 1'),
    ((1, FRAMES, HEIGHT, WIDTH, 4), 'expected 3 (RGB) channels'),
    ((1, FRAMES, 300, WIDTH, 3), 'larger than the exported maximum of 256'),
])
def test_bad_input_names_what_was_expected(serve, shape, message):
  with pytest.raises(tf.errors.InvalidArgumentError) as error:
    serve(input_tensor=tf.zeros(shape, tf.uint8))
  assert message in str(error.value)


def test_wrong_dtype_is_refused_by_the_signature(serve):
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match='expected to be a uint8 tensor but is a float'):
    serve(input_tensor=tf.zeros((1, FRAMES, HEIGHT, WIDTH, 3), tf.float32))


def test_missing_checkpoint_is_refused(exported, tmp_path):
  _, config, _, _ = exported
  with pytest.raises(checkpoint_paths.CheckpointNotFoundError,
                     match='trained_checkpoint_dir .*: no checkpoint in this '
                     'directory'):
    exporter.export_inference_graph(serving_inputs.VIDEO_TENSOR, config,
                                    str(tmp_path), str(tmp_path / 'out'))
  with pytest.raises(checkpoint_paths.CheckpointNotFoundError,
                     match='ckpt-9.index does not'):
    exporter.export_inference_graph(serving_inputs.VIDEO_TENSOR, config,
                                    str(tmp_path / 'ckpt-9'),
                                    str(tmp_path / 'out'))
  assert not os.path.exists(tmp_path / 'out')


def test_checkpoint_of_another_model_is_refused(exported, tmp_path):
  _, config, _, _ = exported
  # A checkpoint with a `model` that has other variables (as a Base-Model's
  # lacks the relation module's).
  other = tf_keras.Sequential([tf_keras.layers.Dense(3)])
  other(tf.zeros([1, 2]))
  tf.train.CheckpointManager(tf.train.Checkpoint(model=other),
                             str(tmp_path / 'other'), max_to_keep=1).save()
  with pytest.raises(exporter.ExportError, match='does not hold this model'):
    exporter.export_inference_graph(serving_inputs.VIDEO_TENSOR, config,
                                    str(tmp_path / 'other'),
                                    str(tmp_path / 'out'))
  assert not os.path.exists(tmp_path / 'out')


def test_a_clip_other_than_the_training_jobs_is_refused(tmp_path):
  # Refused before the model is built: only the step is in the checkpoint.
  label_map_path = str(tmp_path / 'label_map.pbtxt')
  label_map_util.write_label_map(label_map_path, LABELS)
  trained = _config(label_map_path)
  model_dir = str(tmp_path / 'model')
  config_util.save_pipeline_config(trained, model_dir)
  tf.train.CheckpointManager(
      tf.train.Checkpoint(step=tf.Variable(1)), model_dir,
      max_to_keep=1).save(checkpoint_number=1)
  given = _config(label_map_path)
  for reader in (given.train_input_reader, given.eval_input_reader[0]):
    reader.frame_stride = 5
  with pytest.raises(config_util.ConfigError,
                     match=r'^given\.config: train_input_reader\.frame_stride '
                     r'is 5 but the model was trained with train_input_reader'
                     r'\.frame_stride 1 \(.*model/pipeline\.config\)'):
    exporter.export_inference_graph(serving_inputs.VIDEO_TENSOR, given,
                                    model_dir, str(tmp_path / 'out'),
                                    config_path='given.config')
  assert not os.path.exists(tmp_path / 'out')


def test_a_label_map_of_another_size_is_refused(tmp_path):
  label_map_path = str(tmp_path / 'label_map.pbtxt')
  label_map_util.write_label_map(label_map_path, {1: 'a', 2: 'b', 3: 'c'})
  model_dir = str(tmp_path / 'model')
  tf.train.CheckpointManager(
      tf.train.Checkpoint(step=tf.Variable(1)), model_dir,
      max_to_keep=1).save(checkpoint_number=1)
  with pytest.raises(config_util.ConfigError,
                     match=r'action_head\.num_classes is 6 but '
                     r'eval_input_reader\[0\]\.label_map_path .* has 3 '
                     r'classes'):
    exporter.export_inference_graph(serving_inputs.VIDEO_TENSOR,
                                    _config(label_map_path), model_dir,
                                    str(tmp_path / 'out'))
