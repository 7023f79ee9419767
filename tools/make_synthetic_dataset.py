r"""Generates the synthetic relational video dataset (videos + AVA csv).

  python tools/make_synthetic_dataset.py \
      --output_dir workspace/data/synthetic_tiny --preset tiny [--seed 0] \
      [--num_train_videos 24] [--write_preview_png preview.png]

Writes <output_dir>/videos/*.mp4 and <output_dir>/annotations/
({train,val,test}.csv, label_map.pbtxt, excluded_timestamps.csv,
dataset_info.json), then prints videos, keyframes and boxes per class per
split. See docs/synthetic_dataset.md.
"""

import sys
import time

if not __package__:  # python tools/NAME.py: put the checkout on sys.path.
  import _bootstrap  # pylint: disable=g-import-not-at-top,unused-import

from absl import app  # pylint: disable=g-import-not-at-top
from absl import flags

# pylint: disable-next=g-import-not-at-top
from acrn_tf.data.synthetic import synthetic
from acrn_tf.data.synthetic import synthetic_config
from acrn_tf.data.synthetic import synthetic_preview

_OUTPUT_DIR = flags.DEFINE_string(
    'output_dir', None, 'Directory to write videos/ and annotations/ into.')
_PRESET = flags.DEFINE_enum(
    'preset', 'tiny', sorted(synthetic_config.PRESETS),
    'Preset: tiny (tests, demo), benchmark (accuracy benchmark at 96x128) '
    'or stage (relational benchmark: three actors far apart on a 96x960 '
    'stage, see docs/synthetic_dataset.md).')
_SEED = flags.DEFINE_integer('seed', None, 'Base seed (preset default: 0).')
_NUM_TRAIN_VIDEOS = flags.DEFINE_integer(
    'num_train_videos', None, 'Override the preset\'s train videos.')
_NUM_VAL_VIDEOS = flags.DEFINE_integer(
    'num_val_videos', None, 'Override the preset\'s val videos.')
_NUM_TEST_VIDEOS = flags.DEFINE_integer(
    'num_test_videos', None, 'Override the preset\'s test videos.')
_FRAME_HEIGHT = flags.DEFINE_integer('frame_height', None,
                                     'Override the frame height (pixels).')
_FRAME_WIDTH = flags.DEFINE_integer('frame_width', None,
                                    'Override the frame width (pixels).')
_FPS = flags.DEFINE_integer('fps', None, 'Override the frame rate.')
_DURATION_SECONDS = flags.DEFINE_integer(
    'duration_seconds', None, 'Override the length of each video (seconds).')
_MIN_ACTORS = flags.DEFINE_integer('min_actors', None,
                                   'Override the fewest actors per video.')
_MAX_ACTORS = flags.DEFINE_integer('max_actors', None,
                                   'Override the most actors per video.')
_MAX_DISTRACTOR_BALLS = flags.DEFINE_integer(
    'max_distractor_balls', None,
    'Override the most non-interacting bouncing balls per video.')
_CLASSES = flags.DEFINE_list(
    'classes', None, 'Subset of classes to write (default all: '
    f'{",".join(synthetic_config.CLASS_NAMES)}); ids follow this order.')
_VIDEO_EXTENSION = flags.DEFINE_enum(
    'video_extension', None, sorted(synthetic_config.VIDEO_FORMATS),
    'Container: .mp4 (mp4v) or .avi (MJPG).')
_WRITE_PREVIEW_PNG = flags.DEFINE_string(
    'write_preview_png', None,
    'Also write a PNG of a few train clips with boxes and labels here.')

_OVERRIDES = {
    'seed': _SEED, 'num_train_videos': _NUM_TRAIN_VIDEOS,
    'num_val_videos': _NUM_VAL_VIDEOS, 'num_test_videos': _NUM_TEST_VIDEOS,
    'frame_height': _FRAME_HEIGHT, 'frame_width': _FRAME_WIDTH, 'fps': _FPS,
    'duration_seconds': _DURATION_SECONDS, 'min_actors': _MIN_ACTORS,
    'max_actors': _MAX_ACTORS, 'max_distractor_balls': _MAX_DISTRACTOR_BALLS,
    'video_extension': _VIDEO_EXTENSION,
}


def _config_from_flags() -> synthetic.SyntheticConfig:
  overrides = {name: flag.value for name, flag in _OVERRIDES.items()
               if flag.value is not None}
  if _CLASSES.value is not None:
    overrides['classes'] = tuple(_CLASSES.value)
  return synthetic_config.get_preset(_PRESET.value, **overrides)


class _ProgressBar:
  """One line per split on stderr, redrawn after every video."""

  def __init__(self, stream=sys.stderr, width=30):
    self._stream, self._width = stream, width

  def __call__(self, split, done, total, video_id):
    filled = self._width * done // max(total, 1)
    self._stream.write(f'\r{split:>5} [{"#" * filled}'
                       f'{"." * (self._width - filled)}] {done}/{total} '
                       f'{video_id}')
    if done == total:
      self._stream.write('\n')
    self._stream.flush()


def format_summary(summary) -> str:
  """The per-split table the CLI prints: videos, keyframes, boxes, classes."""
  classes = [c['name'] for c in summary['classes']]
  header = ['split', 'videos', 'keyframes', 'boxes'] + classes
  lines = [header]
  for split, counts in summary['splits'].items():
    lines.append([split, counts['num_videos'], counts['num_keyframes'],
                  counts['num_boxes']] +
                 [counts['boxes_per_class'][c] for c in classes])
  widths = [max(len(str(line[i])) for line in lines)
            for i in range(len(header))]
  return '\n'.join('  '.join(str(v).rjust(w) for v, w in zip(line, widths))
                   for line in lines)


def run(argv):
  """Generates the dataset from the parsed flags; returns the summary."""
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if not _OUTPUT_DIR.value:
    raise app.UsageError('--output_dir is required')
  try:
    config = _config_from_flags()
  except ValueError as e:
    raise app.UsageError(str(e)) from e
  start = time.time()
  summary = synthetic.generate_dataset(_OUTPUT_DIR.value, config,
                                       progress_fn=_ProgressBar())
  print(f'Wrote the synthetic dataset (preset {config.preset}, seed '
        f'{config.seed}) to {_OUTPUT_DIR.value} in {time.time() - start:.1f} s')
  print('Boxes per class (a box with several actions counts once for each):')
  print(format_summary(summary))
  if _WRITE_PREVIEW_PNG.value:
    synthetic_preview.write_preview_png(_WRITE_PREVIEW_PNG.value, config)
    print(f'Preview: {_WRITE_PREVIEW_PNG.value}')
  return summary


def _main(argv):
  run(argv)


def main():
  app.run(_main)


if __name__ == '__main__':
  main()
