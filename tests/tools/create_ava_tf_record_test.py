"""create_ava_tf_record: the CLI end to end, and a killed run resumed.

The tool runs as a subprocess, as users run it (and so that its absl flags
never meet another tool's in the test process).
"""

import os
import signal
import subprocess
import sys
import time

import numpy as np

from acrn_tf.core import standard_fields
from acrn_tf.data import label_map_util
from acrn_tf.data.conversion import ava
from acrn_tf.data.conversion import conversion
from tests.data.conversion import conversion_fixtures as fx

_keys = standard_fields.SequenceExampleKeys
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
_TOOL = os.path.join(_REPO, 'tools', 'create_ava_tf_record.py')


def _command(args):
  return [sys.executable, _TOOL] + args


def _env():
  # This checkout's library, whatever an installed copy holds.
  env = dict(os.environ, PYTHONPATH=_REPO)
  env['TF_CPP_MIN_LOG_LEVEL'] = '2'
  return env


def _dataset(root, csv_text):
  """Videos, csv, label maps and excluded timestamps under root."""
  fx.write_video(os.path.join(root, 'videos', 'vid_a.mp4'))
  fx.write_video(os.path.join(root, 'videos', 'vid_b.avi'))
  return dict(
      videos_dir=os.path.join(root, 'videos'),
      annotation_csv=fx.write_text(os.path.join(root, 'ann', 'train.csv'),
                                   csv_text),
      label_map_path=fx.write_text(os.path.join(root, 'ann', 'actions.pbtxt'),
                                   fx.AVA_LABEL_MAP),
  )


def test_end_to_end(tmp_path):
  paths = _dataset(str(tmp_path), (
      'vid_a,0001,0.2,0.1,0.6,0.5,1,0\n'
      'vid_a,0001,0.2,0.1,0.6,0.5,2,0\n'
      'vid_a,0001,0.25,0.5,0.75,1.0,4,1\n'
      'vid_a,0001,0.3,0.3,0.3,0.6,1,2\n'
      'vid_a,0002,0.2,0.1,0.6,0.5,1,0\n'
      'vid_b,0002,0.0,0.0,1.0,1.0,4,3\n'
      'vid_b,0003,0.0,0.0,1.2,1.0,1,3\n'
      'vid_c,0001,0.0,0.0,1.0,1.0,1,3\n'))
  excluded = fx.write_text(str(tmp_path / 'ann' / 'excluded.csv'),
                           'vid_a,0002\n')
  subset = fx.write_text(str(tmp_path / 'ann' / 'subset.pbtxt'),
                         'item { name: "stand" id: 1 }\n'
                         'item { name: "wave" id: 4 }\n')
  output = str(tmp_path / 'records' / 'train')
  args = [f'--{name}={value}' for name, value in paths.items()] + [
      f'--excluded_timestamps_csv={excluded}',
      f'--class_subset_label_map={subset}', f'--output_path={output}',
      '--num_shards=2', '--frames_per_clip=4', '--frame_stride=2',
      '--shorter_side=16', '--flow', '--flow_bound=15', '--num_threads=2',
      '--jpeg_quality=80']
  result = subprocess.run(_command(args), env=_env(), capture_output=True,
                          text=True, timeout=300, check=False)
  # Written, but keyframes and a row were skipped: status 2, said on stderr.
  assert result.returncode == 2, result.stderr
  assert ('error: 2 keyframes and 1 bad boxes or labels were skipped (listed '
          'above); the records hold everything else. Fix the rows, or pass '
          '--allow_skipped to accept them (exit status 2 without it)'
          ) in result.stderr
  out = result.stdout
  assert 'Read 8 rows, 4 keyframes from' in out
  assert '  left out: keyframes in the excluded timestamps: 1' in out
  assert '  left out: labels outside the class subset: 1' in out
  assert ('Wrote 2 examples with 3 boxes from 4 keyframes into 2 shards (2 '
          'written now, 0 already complete)') in out
  assert 'Boxes per label:\n     1 stand: 1\n     4 wave: 2\n' in out
  assert 'Skipped 2 keyframes:\n  box outside [0, 1]: 1\n' in out
  assert '  missing video: 1\n' in out
  # The empty box of row 4 went alone; its keyframe kept its other boxes.
  assert ('Left out 1 bad boxes or labels (their keyframes were written with '
          'the other boxes):\n  empty box: 1\n'
          f'    e.g. {paths["annotation_csv"]}:4: box 2 [ymin, xmin, ymax, '
          'xmax] = [0.3, 0.3, 0.6, 0.3] is empty') in out
  assert '3/3 keyframes' not in result.stderr  # the csv had 4 keyframes
  assert '4/4 keyframes' in result.stderr

  shards = [conversion.shard_path(output, i, 2) for i in range(2)]
  records = fx.read_records(shards)
  assert fx.keyframe_keys(records) == [('vid_a', 1.0), ('vid_b', 2.0)]
  first, second = records
  np.testing.assert_allclose(first['boxes'], [[0.1, 0.2, 0.5, 0.6],
                                              [0.5, 0.25, 1.0, 0.75]])
  assert first['labels'] == [(1,), (4,)]
  assert list(first[_keys.box_track_id]) == [0, 1]
  assert second['labels'] == [(4,)]
  for record in records:
    assert record[_keys.num_frames] == 4
    assert (record[_keys.frame_height], record[_keys.frame_width]) == (16, 24)
    assert record[_keys.flow_bound] == 15.0
    assert len(record[_keys.flow_x_encoded]) == 4
  assert [fx.frame_number_of(f) for f in second[_keys.frames_encoded]] == [
      16, 18, 20, 22]
  assert label_map_util.read_label_map(
      str(tmp_path / 'records' / 'label_map.pbtxt')) == {1: 'stand',
                                                         4: 'wave'}


def test_killed_conversion_reruns_to_identical_shards(tmp_path):
  # Enough work to stop the tool inside its second shard: 72 keyframes of
  # 16 frames enlarged to 240 x 360, with flow, on one thread.
  rows = [f'{video},{t / 10:.1f},0.2,0.1,0.6,0.5,1,0\n'
          for video in ('vid_a', 'vid_b') for t in range(36)]
  paths = _dataset(str(tmp_path), ''.join(rows))
  options = conversion.ConversionOptions(frames_per_clip=16, shorter_side=240,
                                         flow=True, num_threads=1)
  args = [f'--{name}={value}' for name, value in paths.items()] + [
      '--num_shards=2', '--frames_per_clip=16', '--shorter_side=240',
      '--flow', '--num_threads=1']

  killed_prefix = str(tmp_path / 'killed' / 'train')
  shards = [conversion.shard_path(killed_prefix, i, 2) for i in range(2)]
  temporary = os.path.join(os.path.dirname(killed_prefix),
                           f'.{os.path.basename(shards[1])}.tmp-')
  process = subprocess.Popen(
      _command(args + [f'--output_path={killed_prefix}']), env=_env(),
      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  deadline = time.time() + 120
  try:
    # Wait until shard 0 is complete and shard 1 is being written.
    while time.time() < deadline and process.poll() is None:
      if os.path.exists(shards[0]) and any(
          name.startswith(os.path.basename(temporary))
          for name in os.listdir(os.path.dirname(killed_prefix))):
        break
      time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
  finally:
    process.wait()
  assert process.returncode == -signal.SIGKILL, 'the tool finished too soon'
  assert os.path.exists(shards[0])
  assert not os.path.exists(shards[1])
  assert any(name.startswith(os.path.basename(temporary))
             for name in os.listdir(os.path.dirname(killed_prefix)))

  # The rerun (the same conversion, in process) finishes shard 1 only.
  def convert(prefix):
    result = ava.read_annotations(paths['annotation_csv'],
                                  paths['videos_dir'])
    label_map = label_map_util.read_label_map(paths['label_map_path'])
    return conversion.convert(result.keyframes, label_map, prefix, options,
                              num_shards=2, videos_dir=paths['videos_dir'])

  rerun = convert(killed_prefix)
  assert rerun.shards_already_complete == shards[:1]
  assert rerun.shards_written == shards[1:]
  assert not [n for n in os.listdir(os.path.dirname(killed_prefix))
              if '.tmp-' in n]
  clean = convert(str(tmp_path / 'clean' / 'train'))
  assert clean.examples_written == rerun.examples_written == 72
  for killed_shard, clean_shard in zip(shards, clean.shard_paths):
    with open(killed_shard, 'rb') as a, open(clean_shard, 'rb') as b:
      assert a.read() == b.read()
