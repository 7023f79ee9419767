r"""Whether a run's scene map holds the partner, and a relation module reads it.

  # The benchmark's pretraining run (a Base-Model), ACRN's relation module
  # of the stage config, on a scene map 4x coarser:
  python tools/relation_readout.py \
      --run_dir workspace/benchmark/runs/pretrain \
      --relation_config configs/synthetic/acrn_stage.config \
      --scene_scale 0.25 --output_dir /tmp/readout

It caches F and the groundtruth actors' f_a of the run's training and test
records (benchmarks/relation_readout explains what is measured), then
prints and, with --output_dir, writes readout.md, readout.json and
readout.png: a linear classifier's test AP on f_a alone and on f_a plus F
at the partners' places, and the relation module's test AP while it
trains on the cached features.
"""

import os
import shlex
import sys
import time

if not __package__:  # python tools/NAME.py: put the checkout on sys.path.
  import _bootstrap  # pylint: disable=g-import-not-at-top,unused-import

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
from absl import logging

from acrn_tf.builders import config_util  # pylint: disable=g-import-not-at-top
from acrn_tf.builders import model_builder
from acrn_tf.core import checkpoint_paths
from acrn_tf.data.synthetic import synthetic_config
from benchmarks import relation_readout
from benchmarks import relation_readout_report as report

_RUN_DIR = flags.DEFINE_string(
    'run_dir', None, 'A trained run: its pipeline.config and checkpoint.')
_CHECKPOINT = flags.DEFINE_string(
    'checkpoint', None, 'The checkpoint (default: the run\'s latest).')
_TRAIN_RECORDS = flags.DEFINE_string(
    'train_records', None, 'Records the readouts train on (default: the '
    'run\'s train_input_reader input_path).')
_TEST_RECORDS = flags.DEFINE_string(
    'test_records', None, 'Records the readouts are scored on (default: the '
    'run\'s eval input reader input_path).')
_RELATION_CONFIG = flags.DEFINE_string(
    'relation_config', None, 'A pipeline.config whose relation_module is '
    'trained on the cache (default: the run\'s own; a Base-Model run has '
    'none).')
_SCENE_SCALE = flags.DEFINE_float(
    'scene_scale', 0.0, 'Replace every scene_features scale of the relation '
    'module with this (0: keep).')
_ACTOR_FEATURE_IN_G_THETA = flags.DEFINE_bool(
    'actor_feature_in_g_theta', None, 'Set the relation module\'s '
    'actor_feature_in_g_theta (unset: keep the config\'s).')
_OFFSETS = flags.DEFINE_list(
    'partner_offsets_px', None, 'Horizontal offsets (pixels of the frame) '
    'of the places the linear readout reads F at (default: the stage\'s '
    'neighbouring places, from dataset_info.json beside the label map).')
_STEPS = flags.DEFINE_integer('steps', 2000,
                              'Training steps of the relation module.')
_LEARNING_RATE = flags.DEFINE_float('learning_rate', 0.02,
                                    'The relation module\'s learning rate.')
_OPTIMIZER = flags.DEFINE_enum(
    'optimizer', 'momentum', ['momentum', 'adam'], 'The relation module\'s '
    'optimizer: momentum SGD (0.9, the benchmark\'s) or Adam.')
_BATCH_SIZE = flags.DEFINE_integer('batch_size', 16, 'Actors per step.')
_EVAL_EVERY = flags.DEFINE_integer('eval_every', 250,
                                   'Score the test split every N steps.')
_MAX_KEYFRAMES = flags.DEFINE_integer(
    'max_keyframes', 0, 'Cache at most this many keyframes per split (0: '
    'all).')
_OUTPUT_DIR = flags.DEFINE_string(
    'output_dir', None, 'Write readout.md, readout.json and readout.png.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of both readouts.')
_CACHE_DIR = flags.DEFINE_string(
    'cache_dir', None, 'Keep each split\'s cached features here (train.npz, '
    'test.npz) and reuse them while the checkpoint, records and '
    '--max_keyframes stay the same.')


def _offsets(config, frame_width: int):
  if _OFFSETS.value:
    try:
      pixels = [float(v) for v in _OFFSETS.value]
    except ValueError as e:
      raise app.UsageError(f'--partner_offsets_px: {e}') from e
    return ([p / frame_width for p in pixels],
            f'--partner_offsets_px of a {frame_width} px wide frame')
  try:
    return report.stage_partner_offsets(
        config.train_input_reader.label_map_path)
  except ValueError as e:
    raise app.UsageError(str(e)) from e


def run(argv):
  """Caches, reads out, prints; returns the summary dict."""
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments {argv[1:]}')
  if not _RUN_DIR.value:
    raise app.UsageError('give --run_dir')
  config = config_util.read_pipeline_config(
      f'{_RUN_DIR.value}/pipeline.config')
  checkpoint = checkpoint_paths.resolve(_CHECKPOINT.value or _RUN_DIR.value)
  # A copy even of the run's own config: the flags below change it, the
  # feature cache must build the model the checkpoint holds.
  relation_config = config_util.read_pipeline_config(
      _RELATION_CONFIG.value or f'{_RUN_DIR.value}/pipeline.config')
  scene_features = (relation_config.model.video_faster_rcnn.relation_module
                    .scene_features)
  if _SCENE_SCALE.value < 0:
    raise app.UsageError(f'--scene_scale must be > 0 (or 0: keep), got '
                         f'{_SCENE_SCALE.value}')
  if _SCENE_SCALE.value > 0:
    for feature in scene_features:
      feature.scale = _SCENE_SCALE.value
  module = relation_config.model.video_faster_rcnn.relation_module
  if _ACTOR_FEATURE_IN_G_THETA.value is not None:
    module.actor_feature_in_g_theta = _ACTOR_FEATURE_IN_G_THETA.value
  eval_reader = config_util.eval_input_reader(config)
  offsets, offsets_source = _offsets(config, eval_reader.image_width)
  class_names = [name for _, name in
                 sorted(model_builder.model_label_map(config).items())]
  patterns = {
      'train': (_TRAIN_RECORDS.value or
                config.train_input_reader.tf_record_input_reader.input_path[0]),
      'test': (_TEST_RECORDS.value or
               eval_reader.tf_record_input_reader.input_path[0]),
  }
  caches = {
      split: relation_readout.cached_features(
          config, checkpoint, pattern, max_keyframes=_MAX_KEYFRAMES.value,
          cache_path=(os.path.join(_CACHE_DIR.value, f'{split}.npz')
                      if _CACHE_DIR.value else None),
          progress=logging.info)
      for split, pattern in patterns.items()}
  train, test = caches['train'], caches['test']
  relation_classes = [c for c in synthetic_config.RELATION_CLASSES
                      if c in class_names]
  linear = {}
  for key, with_scene in (('actor_only', False), ('with_scene', True)):
    linear[key] = relation_readout.linear_readout(
        train, test, class_names, offsets, with_scene=with_scene,
        seed=_SEED.value)
    linear[key + '_relation_map'] = relation_readout.relation_map(
        linear[key], relation_classes)
    logging.info('linear readout (%s): %s', key, linear[key])
  curve = relation_readout.relation_module_readout(
      train, test, relation_config, class_names, steps=_STEPS.value,
      batch_size=_BATCH_SIZE.value, learning_rate=_LEARNING_RATE.value,
      optimizer=_OPTIMIZER.value, eval_every=_EVAL_EVERY.value,
      seed=_SEED.value, progress=logging.info)
  summary = {
      'command': shlex.join(['python', 'tools/relation_readout.py'] +
                            sys.argv[1:]),
      'date': time.strftime('%Y-%m-%d'),
      'run_dir': _RUN_DIR.value, 'checkpoint': checkpoint,
      'endpoint': train.endpoint,
      'map_size': 'x'.join(str(d) for d in train.scene_maps.shape[1:3]),
      'num_train_actors': train.num_actors,
      'num_test_actors': test.num_actors,
      'class_names': class_names, 'relation_classes': relation_classes,
      'offsets': offsets, 'offsets_source': offsets_source,
      'linear': linear,
      'relation_module': {
          'name': module.WhichOneof('relation_module_oneof'),
          'scene_scales': ', '.join(f'{f.scale:g}' for f in scene_features),
          'actor_feature_in_g_theta': module.actor_feature_in_g_theta,
          'optimizer': _OPTIMIZER.value,
          'lr': _LEARNING_RATE.value, 'batch_size': _BATCH_SIZE.value,
          'curve': curve,
      },
  }
  print(report.format_markdown(summary))
  if _OUTPUT_DIR.value:
    for path in report.write(_OUTPUT_DIR.value, summary).values():
      print('wrote', path)
  return summary


def _main(argv):
  try:
    run(argv)
  except (ValueError, OSError) as e:
    sys.exit(f'relation_readout: {e}')


def main():
  app.run(_main)


if __name__ == '__main__':
  main()
