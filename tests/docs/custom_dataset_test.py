"""docs/custom_dataset.md, run as written on a generated AVA-format set.

The set is not the synthetic preset: 3 classes (the page's label map), 240
x 180 frames at 15 fps, coloured rectangles moving as actors, generated here
with OpenCV. Every `sh` block of the page runs, in order, in one bash script
with `set -euo pipefail`, in a directory holding the repository's `tools/`
and the generated `workspace/data/mydata/`. The only change to the page's
text is the one the page announces: its step counts become tiny.
"""

import json
import os
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PAGE = os.path.join(REPO, 'docs', 'custom_dataset.md')
# The page's realistic step counts and what the test trains instead (the
# page states this list).
STEP_COUNTS = {
    'num_steps: 2000': 'num_steps: 2',
    'total_steps: 2000': 'total_steps: 2',
    'warmup_steps: 100': 'warmup_steps: 1',
    'checkpoint_every_n: 500': 'checkpoint_every_n: 2',
    'summary_every_n: 50': 'summary_every_n: 1',
    'steps_per_loop: 50': 'steps_per_loop: 1',
}
HEIGHT, WIDTH, FPS, SECONDS = 180, 240, 15, 6
# BGR colour of each class's actors.
COLORS = {1: (0, 0, 255), 2: (0, 255, 0), 3: (255, 0, 0)}


def blocks(text, language):
  """The bodies of the page's ```<language> blocks, in order."""
  return re.findall(rf'^```{language}\n(.*?)^```$', text,
                    flags=re.MULTILINE | re.DOTALL)


def label_map_block(text):
  """The page's label map (the text block that holds `item {`)."""
  (label_map,) = [b for b in blocks(text, 'text') if b.startswith('item {')]
  return label_map


def write_video(path, num_actors, rng):
  """A video of moving rectangles; returns its AVA csv rows.

  Keyframes at whole seconds 1 .. SECONDS - 2 (not the first and last
  second, as AVA), one row per actor with its class and person id.
  """
  starts = rng.uniform(0.05, 0.45, (num_actors, 2))
  velocities = rng.uniform(-0.03, 0.03, (num_actors, 2))
  labels = rng.integers(1, 4, num_actors)
  writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), FPS,
                           (WIDTH, HEIGHT))
  assert writer.isOpened()
  video_id = os.path.splitext(os.path.basename(path))[0]
  rows = []
  for frame_number in range(FPS * SECONDS):
    image = np.full((HEIGHT, WIDTH, 3), 60, np.uint8)
    for actor in range(num_actors):
      y1, x1 = np.clip(starts[actor] + velocities[actor] * frame_number / FPS,
                       0.02, 0.55)
      y2, x2 = y1 + 0.4, x1 + 0.25
      cv2.rectangle(image, (int(x1 * WIDTH), int(y1 * HEIGHT)),
                    (int(x2 * WIDTH), int(y2 * HEIGHT)),
                    COLORS[int(labels[actor])], cv2.FILLED)
      second, rest = divmod(frame_number, FPS)
      if not rest and 1 <= second <= SECONDS - 2:
        rows.append(f'{video_id},{second},{x1:.3f},{y1:.3f},{x2:.3f},'
                    f'{y2:.3f},{labels[actor]},{actor}')
    writer.write(image)
  writer.release()
  return rows


def make_dataset(root, label_map_text):
  """workspace/data/mydata as the page's "What you start from" lays it out."""
  data = os.path.join(root, 'workspace', 'data', 'mydata')
  os.makedirs(os.path.join(data, 'videos'))
  os.makedirs(os.path.join(data, 'annotations'))
  rng = np.random.default_rng(19)
  for split, num_videos in (('train', 4), ('val', 1)):
    rows = []
    for i in range(num_videos):
      rows += write_video(os.path.join(data, 'videos',
                                       f'{split}_{i:02d}.mp4'), 2, rng)
    with open(os.path.join(data, 'annotations', f'{split}.csv'), 'w',
              encoding='utf-8') as f:
      f.write('\n'.join(rows) + '\n')
  with open(os.path.join(data, 'annotations', 'label_map.pbtxt'), 'w',
            encoding='utf-8') as f:
    f.write(label_map_text)
  return data


def page_script(text):
  """The page's sh blocks as one script, with the announced step counts."""
  script = '\n'.join(blocks(text, 'sh'))
  for realistic, tiny in STEP_COUNTS.items():
    assert script.count(realistic) == 1, realistic
    script = script.replace(realistic, tiny)
  return 'set -euo pipefail\n' + script


def test_page_states_what_the_test_changes():
  with open(PAGE, encoding='utf-8') as f:
    text = ' '.join(f.read().split())
  for realistic in STEP_COUNTS:
    assert f'`{realistic}`' in text
  assert 'by 2, 2, 1, 2, 1 and 1' in text
  assert [v.split(': ')[1] for v in STEP_COUNTS.values()] == [
      '2', '2', '1', '2', '1', '1']


@pytest.mark.timeout(900)
def test_the_page_runs_as_written(tmp_path):
  with open(PAGE, encoding='utf-8') as f:
    text = f.read()
  root = str(tmp_path)
  os.symlink(os.path.join(REPO, 'tools'), os.path.join(root, 'tools'))
  make_dataset(root, label_map_block(text))
  env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL='2',
             PATH=os.path.dirname(sys.executable) + os.pathsep +
             os.environ.get('PATH', ''))
  result = subprocess.run(['bash', '-c', page_script(text)], cwd=root,
                          env=env, capture_output=True, text=True,
                          timeout=900, check=False)
  assert result.returncode == 0, (result.stdout[-3000:] +
                                  result.stderr[-5000:])
  workspace = os.path.join(root, 'workspace')
  # Converted with every row used (the converter would exit 2 otherwise).
  assert 'Wrote 16 examples with 32 boxes from 16 keyframes' in result.stdout
  # Trained: the last checkpoint is the last step.
  model = os.path.join(workspace, 'models', 'mydata_acrn')
  assert os.path.exists(os.path.join(model, 'ckpt-2.index'))
  # Evaluated on the val records.
  for metric in ('frame_ap', 'ava_frame_ap'):
    assert os.path.exists(os.path.join(model, 'eval_job', 'eval', 'step_2',
                                       metric, 'metrics.json'))
  # Exported.
  export = os.path.join(workspace, 'exported', 'mydata_acrn')
  assert sorted(os.listdir(export)) == ['label_map.pbtxt', 'pipeline.config',
                                        'saved_model']
  # A scored csv: only the 4 annotated keyframes of the val video.
  inference = os.path.join(workspace, 'inference', 'mydata_val')
  with open(os.path.join(inference, 'detections.csv'),
            encoding='utf-8') as f:
    stamps = {tuple(row.split(',')[:2]) for row in f.read().splitlines()}
  assert stamps <= {('val_00', f'{s:04d}') for s in range(1, 5)}
  with open(os.path.join(inference, 'scores', 'metrics.json'),
            encoding='utf-8') as f:
    metrics = json.load(f)
  assert 0.0 <= metrics['mean_ap'] <= 1.0
  assert 'ava_frame_ap mAP@0.5: ' in result.stdout
