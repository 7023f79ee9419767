"""JHMDB readers on tiny fixtures written by the test."""

import os
import pickle

import numpy as np
import pytest
import scipy.io

from acrn_tf.data.conversion import jhmdb


def _mask(num_frames, height=24, width=32):
  """An actor rectangle moving right by one pixel a frame; frame 2 empty."""
  mask = np.zeros((height, width, num_frames), np.uint8)
  for t in range(num_frames):
    if t == 2:
      continue
    mask[4:20, 8 + t:16 + t, t] = 1
  return mask


def _write_original(root, classes=('catch', 'throw')):
  os.makedirs(os.path.join(root, 'splits'))
  for name in classes:
    videos = {f'{name}_a': 1, f'{name}_b': 2}
    with open(os.path.join(root, 'splits', f'{name}_test_split1.txt'),
              'w') as f:
      for video, subset in videos.items():
        f.write(f'{video}.avi {subset} \n')
    for video in videos:
      mask_dir = os.path.join(root, 'puppet_mask', name, video)
      os.makedirs(mask_dir)
      scipy.io.savemat(os.path.join(mask_dir, 'puppet_mask.mat'),
                       {'part_mask': _mask(5)})
      os.makedirs(os.path.join(root, 'Rename_Images', name, video))


def test_boxes_from_puppet_mask_by_hand(tmp_path):
  path = str(tmp_path / 'puppet_mask.mat')
  scipy.io.savemat(path, {'part_mask': _mask(4)})
  boxes = jhmdb.boxes_from_puppet_mask(path)
  assert boxes.shape == (4, 4)
  # Frame 0: rows 4..19, columns 8..15 of 24 x 32.
  np.testing.assert_allclose(boxes[0], [4 / 24, 8 / 32, 20 / 24, 16 / 32])
  np.testing.assert_allclose(boxes[3], [4 / 24, 11 / 32, 20 / 24, 19 / 32])
  assert np.isnan(boxes[2]).all()


def test_mat_without_part_mask_is_refused(tmp_path):
  path = str(tmp_path / 'puppet_mask.mat')
  scipy.io.savemat(path, {'other': np.zeros((2, 2))})
  with pytest.raises(jhmdb.JhmdbFormatError,
                     match=r'puppet_mask\.mat: no `part_mask` variable'):
    jhmdb.boxes_from_puppet_mask(path)


def test_split_file_and_bad_line(tmp_path):
  path = tmp_path / 'catch_test_split1.txt'
  path.write_text('v1.avi 1\nv2.avi 2\n\n')
  assert jhmdb.read_split_file(str(path)) == {'v1': True, 'v2': False}
  path.write_text('v1.avi 1\nv2.avi 3\n')
  with pytest.raises(jhmdb.JhmdbFormatError,
                     match=r'catch_test_split1\.txt:2: expected'):
    jhmdb.read_split_file(str(path))


def test_read_original_train_and_test(tmp_path):
  root = str(tmp_path)
  _write_original(root)
  train = jhmdb.read_original(root, split=1, subset='train',
                              classes=('catch', 'throw'))
  # Two training videos (catch_a, throw_a), 5 frames each, frame 2 empty.
  assert len(train) == 8
  assert {a.video_id for a in train} == {'catch/catch_a', 'throw/throw_a'}
  first = train[0]
  assert first.labels == ((1,),)
  assert first.keyframe_frame_number == 0
  assert first.keyframe_timestamp == 0.0
  assert first.video_path == os.path.join(root, 'Rename_Images', 'catch',
                                          'catch_a')
  assert [a.keyframe_frame_number for a in train[:4]] == [0, 1, 3, 4]
  assert train[4].labels == ((2,),)
  strided = jhmdb.read_original(root, split=1, subset='test',
                                keyframe_stride=2, classes=('catch', 'throw'))
  assert [a.keyframe_frame_number for a in strided[:2]] == [0, 3]


def test_read_original_missing_split_file(tmp_path):
  with pytest.raises(jhmdb.JhmdbFormatError, match='split file missing'):
    jhmdb.read_original(str(tmp_path), split=2, subset='train')


def _gt(tmp_path):
  gt = {
      'labels': list(jhmdb.JHMDB_CLASSES),
      'nframes': {'catch/v1': 4, 'wave/v2': 3},
      'resolution': {'catch/v1': (240, 320), 'wave/v2': (240, 320)},
      'gttubes': {
          'catch/v1': {1: [np.array([[1, 32, 24, 160, 240],
                                     [2, 40, 24, 168, 240],
                                     [4, 48, 24, 176, 240]], np.float32)]},
          'wave/v2': {20: [np.array([[1, 0, 0, 320, 240],
                                     [2, 0, 0, 320, 240],
                                     [3, 0, 0, 320, 240]], np.float32)]},
      },
      'train_videos': [['catch/v1'], ['wave/v2'], []],
      'test_videos': [['wave/v2'], ['catch/v1'], ['catch/v1', 'wave/v2']],
  }
  path = tmp_path / 'JHMDB-GT.pkl'
  with open(path, 'wb') as f:
    pickle.dump(gt, f)
  return str(path), gt


def test_read_gt_pkl(tmp_path):
  path, _ = _gt(tmp_path)
  train = jhmdb.read_gt_pkl(path, '/frames', split=1, subset='train')
  assert [a.keyframe_frame_number for a in train] == [0, 1, 3]
  assert train[0].labels == ((2,),)  # label index 1 -> id 2 (catch)
  np.testing.assert_allclose(train[0].boxes[0],
                             [24 / 240, 32 / 320, 240 / 240, 160 / 320])
  assert train[0].video_path == os.path.join('/frames', 'catch/v1')
  test = jhmdb.read_gt_pkl(path, '/frames', split=3, subset='test')
  assert {a.video_id for a in test} == {'catch/v1', 'wave/v2'}
  assert [a.labels for a in test if a.video_id == 'wave/v2'][0] == ((21,),)


def test_gt_pkl_errors(tmp_path):
  path, gt = _gt(tmp_path)
  del gt['nframes']
  with open(path, 'wb') as f:
    pickle.dump(gt, f)
  with pytest.raises(jhmdb.JhmdbFormatError, match="missing key 'nframes'"):
    jhmdb.read_gt_pkl(path, '/frames', split=1, subset='train')
  with pytest.raises(ValueError, match='split must be 1, 2 or 3, got 4'):
    jhmdb.read_gt_pkl(path, '/frames', split=4, subset='train')


def test_gt_pkl_label_map(tmp_path):
  path, gt = _gt(tmp_path)
  labels = jhmdb.gt_pkl_label_map(path)
  assert labels[2] == 'catch' and labels[21] == 'wave' and len(labels) == 21
  with open(path, 'wb') as f:
    pickle.dump([gt], f)
  with pytest.raises(jhmdb.JhmdbFormatError, match='expected a dict, got list'):
    jhmdb.gt_pkl_label_map(path)


def test_label_map_has_21_classes():
  labels = jhmdb.label_map()
  assert len(labels) == 21
  assert labels[1] == 'brush_hair' and labels[21] == 'wave'
