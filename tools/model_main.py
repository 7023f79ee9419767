r"""Trains and evaluates an action detector (the OD API's model_main_tf2.py).

Train (and, with --eval_every_n_steps, evaluate in the same process):

  python tools/model_main.py \
    --pipeline_config_path configs/synthetic/acrn_tiny.config \
    --model_dir workspace/models/acrn_tiny [--num_train_steps 300]

Evaluate every checkpoint that a separate training job writes:

  python tools/model_main.py \
    --pipeline_config_path configs/synthetic/acrn_tiny.config \
    --model_dir workspace/models/acrn_tiny/eval_job \
    --checkpoint_dir workspace/models/acrn_tiny [--eval_timeout 600]

Evaluate one checkpoint and exit:
--checkpoint_dir workspace/models/acrn_tiny/ckpt-300. --num_train_steps
stretches the config's cosine schedule to the new length.

On several machines set TF_CONFIG on each (MultiWorkerMirroredStrategy) and
pass --num_workers; on a TPU pass --use_tpu --tpu_name NAME. XLA and mixed
precision are config fields (model.video_faster_rcnn.use_xla,
train_config.mixed_precision; e.g. --override
model.video_faster_rcnn.use_xla=true): see docs/accelerators.md.
"""

import sys

if not __package__:  # python tools/NAME.py: put the checkout on sys.path.
  import _bootstrap  # pylint: disable=g-import-not-at-top,unused-import

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags
from absl import logging

from acrn_tf.builders import config_util
from acrn_tf.training import train_lib

FLAGS = flags.FLAGS
flags.DEFINE_string('pipeline_config_path', None, 'Path to a pipeline.config.')
flags.DEFINE_string('model_dir', None,
                    'Where checkpoints, summaries and the merged config go.')
flags.DEFINE_string('checkpoint_dir', None,
                    'Given: evaluation only. A checkpoint prefix (DIR/ckpt-N) '
                    'is evaluated once; a training model_dir has each '
                    'checkpoint evaluated as it appears. A path without a '
                    'checkpoint is an error.')
flags.DEFINE_integer('num_train_steps', None,
                     'Overrides train_config.num_steps and stretches the '
                     'cosine learning-rate schedule to it.')
flags.DEFINE_integer('sample_1_of_n_eval_examples', 1,
                     'Evaluate every n-th eval example.')
flags.DEFINE_integer('eval_timeout', 3600,
                     'Seconds to wait for a new checkpoint in evaluation '
                     'mode before stopping.')
flags.DEFINE_integer('checkpoint_every_n', None,
                     'Overrides train_config.checkpoint_every_n.')
flags.DEFINE_integer('eval_every_n_steps', 0,
                     'Also evaluate every this many training steps in the '
                     'training process (0: no).')
flags.DEFINE_boolean('use_tpu', False, 'Train on a TPU.')
flags.DEFINE_string('tpu_name', '', 'The TPU to use with --use_tpu.')
flags.DEFINE_integer('num_workers', 1,
                     'Workers in the cluster (TF_CONFIG must name them).')
flags.DEFINE_string('config_override', '',
                    'A text-format pipeline config merged over the file.')
flags.DEFINE_multi_string('override', [],
                          'key=value overrides, e.g. '
                          'train_config.batch_size=2 (repeatable).')


def run(argv=None):
  """Runs the job the flags describe; returns the last metrics or outputs."""
  del argv
  if not FLAGS.pipeline_config_path or not FLAGS.model_dir:
    raise app.UsageError('--pipeline_config_path and --model_dir are '
                         'required.')
  overrides = list(FLAGS.override)
  if FLAGS.num_train_steps is not None:
    overrides.append(f'train_config.num_steps={FLAGS.num_train_steps}')
  if FLAGS.checkpoint_every_n is not None:
    overrides.append(
        f'train_config.checkpoint_every_n={FLAGS.checkpoint_every_n}')
  config = config_util.load_pipeline_config(
      FLAGS.pipeline_config_path, config_override=FLAGS.config_override,
      overrides=overrides)
  options = train_lib.JobOptions(
      use_tpu=FLAGS.use_tpu, tpu_name=FLAGS.tpu_name,
      num_workers=FLAGS.num_workers,
      sample_1_of_n_eval_examples=FLAGS.sample_1_of_n_eval_examples,
      eval_timeout=FLAGS.eval_timeout,
      eval_every_n_steps=FLAGS.eval_every_n_steps,
      config_path=FLAGS.pipeline_config_path)
  if FLAGS.checkpoint_dir:
    return train_lib.evaluate_continuously(config, FLAGS.checkpoint_dir,
                                           FLAGS.model_dir, options)
  return train_lib.train(config, FLAGS.model_dir, options)


def _main(argv):
  try:
    run(argv)
  except (ValueError, train_lib.trainer_lib.NonFiniteLossError) as e:
    logging.error('%s', e)
    sys.exit(f'model_main: {e}')


def main():
  app.run(_main)


if __name__ == '__main__':
  main()
