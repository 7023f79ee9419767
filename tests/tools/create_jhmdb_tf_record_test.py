"""create_jhmdb_tf_record: both JHMDB layouts end to end on tiny fixtures.

The tool's run(argv) is called in this process (absl flags parsed from a
list, reset afterwards); the records are parsed back with tf.io.
"""

import os
import pickle

from absl import app
from absl import flags
import cv2
import numpy as np
import pytest
import scipy.io

from acrn_tf.core import standard_fields
from acrn_tf.data import label_map_util
from acrn_tf.data.conversion import conversion
from acrn_tf.data.conversion import jhmdb
from tests.data.conversion import conversion_fixtures as fx
from tests.tools import tool_import

_keys = standard_fields.SequenceExampleKeys
_FLAGS = flags.FLAGS
_CLASSES = ('catch', 'throw')
_NUM_FRAMES = 12
_HEIGHT, _WIDTH = 24, 32
_EMPTY_FRAME = 2  # the puppet mask of this frame is empty


def _label_id(name):
  return jhmdb.JHMDB_CLASSES.index(name) + 1


def _box(t):
  """Normalised [ymin, xmin, ymax, xmax] of the actor in frame t."""
  return [4 / _HEIGHT, (8 + t) / _WIDTH, 20 / _HEIGHT, (16 + t) / _WIDTH]


def _mask():
  """The actor: rows 4..19, columns 8+t..15+t; frame _EMPTY_FRAME empty."""
  mask = np.zeros((_HEIGHT, _WIDTH, _NUM_FRAMES), np.uint8)
  for t in range(_NUM_FRAMES):
    if t != _EMPTY_FRAME:
      mask[4:20, 8 + t:16 + t, t] = 1
  return mask


def _write_frames(directory, extension):
  os.makedirs(directory)
  for t, frame in enumerate(fx.make_frames(_NUM_FRAMES, _HEIGHT, _WIDTH)):
    cv2.imwrite(os.path.join(directory, f'{t + 1:05d}.{extension}'),
                frame[..., ::-1])


def _write_original(root):
  """2 classes x 2 videos (<class>_a training, <class>_b test in split 1)."""
  os.makedirs(os.path.join(root, 'splits'))
  for name in jhmdb.JHMDB_CLASSES:
    lines = ''
    if name in _CLASSES:
      lines = f'{name}_a.avi 1 \n{name}_b.avi 2 \n'
      for video in (f'{name}_a', f'{name}_b'):
        mask_dir = os.path.join(root, 'puppet_mask', name, video)
        os.makedirs(mask_dir)
        scipy.io.savemat(os.path.join(mask_dir, 'puppet_mask.mat'),
                         {'part_mask': _mask()})
        _write_frames(os.path.join(root, 'Rename_Images', name, video), 'png')
    fx.write_text(os.path.join(root, 'splits', f'{name}_test_split1.txt'),
                  lines)


def _write_gt_pkl(root):
  """The same videos as JHMDB-GT.pkl; tubes on frames 4..11 (1-based)."""
  videos = [f'{name}/{name}_{s}' for name in _CLASSES for s in 'ab']
  gttubes = {}
  for video in videos:
    tube = np.array([[t + 1, (8 + t), 4, (16 + t), 20]
                     for t in range(3, 11)], np.float32)
    gttubes[video] = {_label_id(video.split('/')[0]) - 1: [tube]}
    _write_frames(os.path.join(root, 'Frames', video), 'jpg')
  gt = dict(labels=list(jhmdb.JHMDB_CLASSES), gttubes=gttubes,
            nframes={v: _NUM_FRAMES for v in videos},
            resolution={v: (_HEIGHT, _WIDTH) for v in videos},
            train_videos=[[v for v in videos if v.endswith('_a')]] * 3,
            test_videos=[[v for v in videos if v.endswith('_b')]] * 3)
  path = os.path.join(root, 'JHMDB-GT.pkl')
  with open(path, 'wb') as f:
    pickle.dump(gt, f)
  return path


@pytest.fixture(name='run_tool')
def _run_tool():
  tool = tool_import.fresh('create_jhmdb_tf_record')

  def run(args, main=False):
    _FLAGS.unparse_flags()  # flags of an earlier call go back to defaults
    argv = ['create_jhmdb_tf_record']
    _FLAGS(argv + args)
    if main:
      return tool.cflags.exit_status(tool.run, argv)
    return tool.run(argv)
  yield run
  _FLAGS.unparse_flags()


_COMMON = ['--frames_per_clip=4', '--num_shards=2', '--num_threads=1',
           '--shorter_side=12']


def _records(output):
  return fx.read_records([conversion.shard_path(output, i, 2)
                          for i in range(2)])


def test_original_layout_train_with_keyframe_stride(tmp_path, run_tool):
  root = str(tmp_path / 'jhmdb')
  _write_original(root)
  output = str(tmp_path / 'records' / 'split1_train')
  summary = run_tool([f'--jhmdb_root={root}', '--split=1', '--subset=train',
                      '--keyframe_stride=2', f'--output_path={output}']
                     + _COMMON)
  # Annotated frames 0, 1, 3..11; every 2nd: 0, 3, 5, 7, 9, 11.
  frames = [0, 3, 5, 7, 9, 11]
  assert summary.examples_written == 12
  records = _records(output)
  assert [(r[_keys.video_id].decode(), int(r[_keys.keyframe_frame_number]))
          for r in records] == [(f'{name}/{name}_a', t) for name in _CLASSES
                                for t in frames]
  for record, (name, t) in zip(records, [(n, t) for n in _CLASSES
                                         for t in frames]):
    np.testing.assert_allclose(record['boxes'], [_box(t)], atol=1e-6)
    assert record['labels'] == [(_label_id(name),)]
    assert (record[_keys.frame_height], record[_keys.frame_width]) == (12, 16)
    assert record[_keys.num_frames] == 4
  assert label_map_util.read_label_map(
      str(tmp_path / 'records' / 'label_map.pbtxt')) == jhmdb.label_map()


def test_gt_pkl_layout_test_subset(tmp_path, run_tool):
  pkl_path = _write_gt_pkl(str(tmp_path))
  output = str(tmp_path / 'records' / 'split2_test')
  summary = run_tool([f'--gt_pkl_path={pkl_path}',
                      f'--frames_root={tmp_path / "Frames"}', '--split=2',
                      '--subset=test', f'--output_path={output}'] + _COMMON)
  assert summary.examples_written == 16  # 2 videos x frames 3..10
  records = _records(output)
  expected = [(f'{name}/{name}_b', t) for name in _CLASSES
              for t in range(3, 11)]
  assert [(r[_keys.video_id].decode(), int(r[_keys.keyframe_frame_number]))
          for r in records] == expected
  for record, (video, t) in zip(records, expected):
    np.testing.assert_allclose(record['boxes'], [_box(t)], atol=1e-6)
    assert record['labels'] == [(_label_id(video.split('/')[0]),)]
    # The clip really is centred on frame t (frames_per_clip // 2 = 2).
    assert [fx.frame_number_of(f) for f in record[_keys.frames_encoded]] == [
        t - 2, t - 1, t, t + 1]
  assert label_map_util.read_label_map(
      str(tmp_path / 'records' / 'label_map.pbtxt')) == jhmdb.label_map()


def test_missing_puppet_mask_is_refused(tmp_path, run_tool, capsys):
  root = str(tmp_path / 'jhmdb')
  _write_original(root)
  mask = os.path.join(root, 'puppet_mask', 'throw', 'throw_a',
                      'puppet_mask.mat')
  os.remove(mask)
  args = [f'--jhmdb_root={root}', f'--output_path={tmp_path / "out" / "t"}']
  with pytest.raises(jhmdb.JhmdbFormatError,
                     match=f'{mask}: cannot read the .mat file'):
    run_tool(args)
  assert run_tool(args, main=True) == 1
  assert f'error: {mask}: cannot read' in capsys.readouterr().err
  assert not os.path.exists(tmp_path / 'out')


def test_bad_arguments_are_refused(tmp_path, run_tool):
  with pytest.raises(flags.IllegalFlagValueError, match='split'):
    run_tool(['--split=4'])
  output = f'--output_path={tmp_path / "out"}'
  with pytest.raises(app.UsageError, match='exactly one of --jhmdb_root'):
    run_tool([output, '--jhmdb_root=a', '--gt_pkl_path=b'])
  with pytest.raises(app.UsageError, match='--frames_root is required'):
    run_tool([output, '--gt_pkl_path=b'])
  with pytest.raises(app.UsageError, match='thins the training set only'):
    run_tool([output, '--jhmdb_root=a', '--subset=test',
              '--keyframe_stride=2'])
  with pytest.raises(app.UsageError, match=r'--shard_index must be in \[0, 2'):
    run_tool([output, '--jhmdb_root=a', '--num_shards=2', '--shard_index=2'])
