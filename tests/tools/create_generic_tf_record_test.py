"""create_generic_tf_record: the CLI end to end in a subprocess.

The tool runs as a subprocess, as users run it (and so that its absl flags
never meet another tool's in the test process).
"""

import os
import subprocess
import sys

import numpy as np

from acrn_tf.core import standard_fields
from acrn_tf.data.conversion import conversion
from tests.data.conversion import conversion_fixtures as fx

_keys = standard_fields.SequenceExampleKeys
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
_TOOL = os.path.join(_REPO, 'tools', 'create_generic_tf_record.py')


def _run(args, cwd):
  # This checkout's library, whatever an installed copy holds.
  env = dict(os.environ, PYTHONPATH=_REPO)
  env['TF_CPP_MIN_LOG_LEVEL'] = '2'
  return subprocess.run([sys.executable, _TOOL] + args, cwd=cwd, env=env,
                        capture_output=True, text=True, timeout=300,
                        check=False)


def test_end_to_end_then_a_run_that_writes_nothing(tmp_path):
  fx.write_video(str(tmp_path / 'data' / 'videos' / 'cam1' / 'a.mp4'))
  fx.write_frame_dir(str(tmp_path / 'data' / 'videos' / 'b_frames'),
                     num_frames=12)
  fx.write_text(str(tmp_path / 'data' / 'label_map.pbtxt'),
                fx.ITEM_LABEL_MAP)
  fx.write_text(str(tmp_path / 'data' / 'train.csv'), (
      'video_path,timestamp_or_frame,x1,y1,x2,y2,labels,track_id\n'
      'cam1/a.mp4,20,0.2,0.1,0.6,0.5,stand|talk,4\n'
      'cam1/a.mp4,20,0.5,0.5,0.9,0.9,wave,5\n'
      'b_frames,3,0.0,0.0,1.0,1.0,2\n'
      '../outside.mp4,3,0.0,0.0,1.0,1.0,2\n'))
  # Relative paths are relative to the working directory.
  args = ['--videos_dir=data/videos', '--annotation_csv=data/train.csv',
          '--label_map_path=data/label_map.pbtxt', '--time_unit=frames',
          '--output_path=records/mine', '--num_shards=1',
          '--frames_per_clip=3', '--frame_dir_fps=5', '--num_threads=1']
  result = _run(args, str(tmp_path))
  # One keyframe skipped: written all the same, exit status 2.
  assert result.returncode == 2, result.stderr
  assert 'error: 1 keyframes and 0 bad boxes or labels were skipped' in (
      result.stderr)
  assert 'Read 4 rows, 3 keyframes from data/train.csv' in result.stdout
  assert ('Wrote 2 examples with 3 boxes from 3 keyframes into 1 shards'
          in result.stdout)
  assert ('  video path outside the videos directory: 1\n    e.g. '
          "data/train.csv:5: video '../outside.mp4' resolves to "
          in result.stdout)
  records = fx.read_records(
      [conversion.shard_path(str(tmp_path / 'records' / 'mine'), 0, 1)])
  assert fx.keyframe_keys(records) == [('b_frames', 0.6), ('cam1/a.mp4', 2.0)]
  frames_dir, video = records
  assert frames_dir['labels'] == [(2,)]
  assert list(frames_dir[_keys.box_track_id]) == [-1]
  assert frames_dir[_keys.fps] == 5.0
  assert [fx.frame_number_of(f) for f in frames_dir[_keys.frames_encoded]] == [
      2, 3, 4]
  np.testing.assert_allclose(video['boxes'], [[0.1, 0.2, 0.5, 0.6],
                                              [0.5, 0.5, 0.9, 0.9]])
  assert video['labels'] == [(1, 2), (4,)]
  assert list(video[_keys.box_track_id]) == [4, 5]
  assert video[_keys.keyframe_frame_number] == 20
  # --allow_skipped accepts the skip (the rerun finds the shard complete).
  assert _run(args + ['--allow_skipped'], str(tmp_path)).returncode == 0

  # Every keyframe refused: exit status 1 and the reasons.
  fx.write_text(str(tmp_path / 'data' / 'bad.csv'),
                'cam1/a.mp4,99,0.2,0.1,0.6,0.5,talk\n')
  args = [a.replace('train.csv', 'bad.csv').replace('mine', 'bad')
          for a in args]
  result = _run(args, str(tmp_path))
  assert result.returncode == 1
  assert 'timestamp outside the video: 1' in result.stdout
  assert 'error: no example could be written' in result.stderr
