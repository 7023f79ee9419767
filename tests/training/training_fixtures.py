"""A tiny synthetic dataset converted to records, and a config to train on it.

The dataset goes through the same tools a user runs (the synthetic
generator, then the AVA converter), as subprocesses.
"""

import os
import subprocess
import sys

from acrn_tf.builders import config_util

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TOOLS = os.path.join(REPO, 'tools')


def env():
  """Environment of tool subprocesses: quiet TensorFlow, repo importable."""
  environment = dict(os.environ)
  environment['TF_CPP_MIN_LOG_LEVEL'] = '2'
  environment['PYTHONPATH'] = REPO
  return environment


def make_records(root: str) -> dict:
  """Writes 2 train and 1 val synthetic videos as records; returns paths."""
  data = os.path.join(root, 'data')
  subprocess.run(
      [sys.executable, os.path.join(TOOLS, 'make_synthetic_dataset.py'),
       '--output_dir', data, '--preset', 'tiny', '--num_train_videos', '2',
       '--num_val_videos', '1', '--num_test_videos', '1'],
      check=True, env=env(), capture_output=True)
  annotations = os.path.join(data, 'annotations')
  records = os.path.join(root, 'records')
  for split in ('train', 'val'):
    subprocess.run(
        [sys.executable, os.path.join(TOOLS, 'create_ava_tf_record.py'),
         '--videos_dir', os.path.join(data, 'videos'),
         '--annotation_csv', os.path.join(annotations, f'{split}.csv'),
         '--label_map_path', os.path.join(annotations, 'label_map.pbtxt'),
         '--output_path', os.path.join(records, split),
         '--frames_per_clip', '4', '--num_shards', '1'],
      check=True, env=env(), capture_output=True)
  return {
      'train': os.path.join(records, 'train-*'),
      'val': os.path.join(records, 'val-*'),
      'label_map': os.path.join(annotations, 'label_map.pbtxt'),
  }


def overrides(paths: dict, num_steps: int = 4) -> list:
  """key=value overrides shrinking the tiny config onto `paths`' records."""
  values = [
      f'train_input_reader.tf_record_input_reader.input_path={paths["train"]}',
      f'eval_input_reader.tf_record_input_reader.input_path={paths["val"]}',
      f'train_input_reader.label_map_path={paths["label_map"]}',
      f'eval_input_reader.label_map_path={paths["label_map"]}',
      f'train_config.num_steps={num_steps}',
      'train_config.batch_size=2',
      'train_config.checkpoint_every_n=2',
      'train_config.steps_per_loop=2',
      'train_config.summary_every_n=2',
      'train_config.seed=3',
      'eval_config.batch_size=2',
      'eval_config.num_examples=4',
      'eval_config.num_visualizations=2',
  ]
  for reader in ('train_input_reader', 'eval_input_reader'):
    values += [f'{reader}.frames_per_clip=4', f'{reader}.image_height=64',
               f'{reader}.image_width=64']
  # Actors of about 20 x 11 pixels at 64 x 64: anchors half the config's
  # (16 to 32 pixels) fit them, as input validation demands.
  values.append('model.video_faster_rcnn.actor_detector.anchor_generator.'
                'anchor_size=1.0')
  return values


def load_config(paths: dict, num_steps: int = 4, extra=()):
  return config_util.load_pipeline_config(
      os.path.join(REPO, 'configs', 'synthetic', 'acrn_tiny.config'),
      overrides=overrides(paths, num_steps) + list(extra))
