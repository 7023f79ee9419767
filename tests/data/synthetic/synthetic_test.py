"""Writing the synthetic dataset: videos, AVA csv, label map and info."""

import csv
import dataclasses
import json
import os
import re

import cv2
import numpy as np
import pytest

from acrn_tf.data.synthetic import synthetic
from acrn_tf.data.synthetic import synthetic_figure
from acrn_tf.data.synthetic import synthetic_render
from acrn_tf.data.synthetic import synthetic_scene

_TINY = synthetic.PRESETS['tiny']
_SMALL = dataclasses.replace(_TINY, num_train_videos=2, num_val_videos=1,
                             num_test_videos=1, duration_seconds=3)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
  """The whole tiny preset, generated once, with the progress calls made."""
  output_dir = str(tmp_path_factory.mktemp('synthetic_tiny'))
  calls = []
  summary = synthetic.generate_dataset(
      output_dir, _TINY, progress_fn=lambda *args: calls.append(args))
  return output_dir, summary, calls


def _read_video(path):
  capture = cv2.VideoCapture(path)
  frames = []
  while True:
    ok, frame = capture.read()
    if not ok:
      break
    frames.append(frame[..., ::-1])
  capture.release()
  return np.stack(frames)


def _read_csv(path):
  with open(path, newline='') as f:
    return list(csv.reader(f))


def _label_map(path):
  with open(path) as f:
    text = f.read()
  items = re.findall(r'item \{\s*name: "([^"]+)"\s*id: (\d+)\s*\}', text)
  return {int(i): name for name, i in items}


def test_layout_and_progress(tiny):
  output_dir, summary, calls = tiny
  videos = sorted(os.listdir(os.path.join(output_dir, 'videos')))
  assert len(videos) == 40
  assert videos[0] == 'test_00000.mp4' and videos[-1] == 'val_00007.mp4'
  assert sorted(os.listdir(os.path.join(output_dir, 'annotations'))) == [
      'dataset_info.json', 'excluded_timestamps.csv', 'label_map.pbtxt',
      'test.csv', 'train.csv', 'val.csv']
  # No temporary file survives.
  for _, _, files in os.walk(output_dir):
    assert not [f for f in files if '.tmp' in f or f.startswith('.')]
  assert calls[0] == ('train', 1, 24, 'train_00000')
  assert calls[-1] == ('test', 8, 8, 'test_00007')
  assert len(calls) == 40
  assert summary['output_dir'] == output_dir


def test_videos_read_back_with_the_expected_shape(tiny):
  output_dir, _, _ = tiny
  for name in os.listdir(os.path.join(output_dir, 'videos')):
    capture = cv2.VideoCapture(os.path.join(output_dir, 'videos', name))
    assert capture.isOpened(), name
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == 60, name
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(10.0), name
    assert capture.get(cv2.CAP_PROP_FRAME_WIDTH) == 128, name
    assert capture.get(cv2.CAP_PROP_FRAME_HEIGHT) == 96, name
    capture.release()
  video = _read_video(os.path.join(output_dir, 'videos', 'val_00000.mp4'))
  assert video.shape == (60, 96, 128, 3)
  # The decoded video is the rendered one up to compression.
  rendered = synthetic_render.render_video(
      synthetic.sample_video_scene(_TINY, 'val', 0))
  assert np.abs(video.astype(int) - rendered).mean() < 8


def test_csv_rows_follow_the_ava_format(tiny):
  output_dir, _, _ = tiny
  for split, num_videos in (('train', 24), ('val', 8), ('test', 8)):
    rows = _read_csv(os.path.join(output_dir, 'annotations', f'{split}.csv'))
    assert rows
    videos = set()
    for row in rows:
      assert len(row) == 8, row
      video_id, timestamp, x1, y1, x2, y2, action_id, person_id = row
      assert re.fullmatch(split + r'_\d{5}', video_id)
      videos.add(video_id)
      assert re.fullmatch(r'000[1-5]', timestamp)
      for value in (x1, y1, x2, y2):
        assert re.fullmatch(r'[01]\.\d{3}', value), row
        assert 0.0 <= float(value) <= 1.0
      assert float(x1) < float(x2) and float(y1) < float(y2)
      assert 1 <= int(action_id) <= 6
      assert 0 <= int(person_id) < 4
    assert len(videos) == num_videos
    # One row per (box, action): no duplicates, same box for one person.
    keys = [tuple(r[:2] + r[6:]) for r in rows]
    assert len(keys) == len(set(keys))
    boxes = {}
    for r in rows:
      assert boxes.setdefault((r[0], r[1], r[7]), tuple(r[2:6])) == tuple(
          r[2:6])


def test_label_map_matches_the_csv(tiny):
  output_dir, summary, _ = tiny
  label_map = _label_map(os.path.join(output_dir, 'annotations',
                                      'label_map.pbtxt'))
  assert label_map == {1: 'throw', 2: 'catch', 3: 'hold', 4: 'pass',
                       5: 'look_at', 6: 'idle'}
  assert [c['id'] for c in summary['classes']] == [1, 2, 3, 4, 5, 6]
  for split in ('train', 'val', 'test'):
    rows = _read_csv(os.path.join(output_dir, 'annotations', f'{split}.csv'))
    assert {int(r[6]) for r in rows} <= set(label_map)


def test_every_class_appears_in_train(tiny):
  output_dir, summary, _ = tiny
  rows = _read_csv(os.path.join(output_dir, 'annotations', 'train.csv'))
  assert {int(r[6]) for r in rows} == {1, 2, 3, 4, 5, 6}
  counts = summary['splits']['train']['boxes_per_class']
  assert min(counts.values()) >= 10


def test_thrower_and_catcher_rows_differ(tiny):
  output_dir, _, _ = tiny
  rows = _read_csv(os.path.join(output_dir, 'annotations', 'train.csv'))
  actions = {}
  for r in rows:
    actions.setdefault((r[0], int(r[1]), int(r[7])), set()).add(int(r[6]))
  found = 0
  for index in range(24):
    scene = synthetic.sample_video_scene(_TINY, 'train', index)
    for event in scene.events:
      if event.kind == 'pass':
        key = (f'train_{index:05d}', event.timestamp)
        thrower = actions[key + (event.thrower,)]
        catcher = actions[key + (event.receiver,)]
        assert {1, 4} <= thrower and 2 not in thrower   # throw, pass
        assert 2 in catcher and 1 not in catcher        # catch
        found += 1
  assert found >= 10


def test_dataset_info_counts_match_the_csv(tiny):
  output_dir, summary, _ = tiny
  with open(os.path.join(output_dir, 'annotations',
                         'dataset_info.json')) as f:
    info = json.load(f)
  assert info['preset'] == 'tiny' and info['config']['seed'] == 0
  assert info['video_format']['fourcc'] == 'mp4v'
  assert info['video_format']['keyframe_timestamps'] == [1, 2, 3, 4, 5]
  for split in ('train', 'val', 'test'):
    rows = _read_csv(os.path.join(output_dir, 'annotations', f'{split}.csv'))
    counts = info['splits'][split]
    assert counts['num_rows'] == len(rows)
    assert counts['num_boxes'] == len({(r[0], r[1], r[7]) for r in rows})
    assert counts['num_keyframes'] == len({(r[0], r[1]) for r in rows})
    assert counts['num_keyframes'] == 5 * counts['num_videos']
    assert sum(counts['boxes_per_class'].values()) == len(rows)
    assert summary['splits'][split] == counts
  excluded = os.path.join(output_dir, 'annotations',
                          'excluded_timestamps.csv')
  assert os.path.getsize(excluded) == 0


def test_keyframe_boxes_contain_the_decoded_actor(tiny):
  output_dir, _, _ = tiny
  rows = _read_csv(os.path.join(output_dir, 'annotations', 'val.csv'))
  checked = 0
  for index in range(3):
    video_id = f'val_{index:05d}'
    scene = synthetic.sample_video_scene(_TINY, 'val', index)
    background = synthetic_render.render_background(scene).astype(int)
    video = _read_video(os.path.join(output_dir, 'videos',
                                     video_id + '.mp4')).astype(int)
    boxes = {(int(r[1]), int(r[7])): [float(v) for v in r[2:6]]
             for r in rows if r[0] == video_id}
    for (timestamp, person), (x1, y1, x2, y2) in boxes.items():
      frame_index = timestamp * 10
      masks = [synthetic_render.render_actor_mask(scene, i, frame_index, 0.5)
               for i in range(len(scene.actors))]
      mask = masks[person].copy()
      for i, other in enumerate(masks):
        if i != person:
          mask &= ~other
      rows_, cols = np.nonzero(mask)
      # Inside the box (3-decimal rounding is < 0.07 px).
      assert rows_.min() >= y1 * 96 - 0.1 and rows_.max() + 1 <= y2 * 96 + 0.1
      assert cols.min() >= x1 * 128 - 0.1 and cols.max() + 1 <= x2 * 128 + 0.1
      # And really drawn there in the decoded video.
      difference = np.abs(video[frame_index] - background).sum(-1)
      assert np.median(difference[mask]) > 60
      checked += 1
  assert checked >= 6


def _decoded_videos(output_dir):
  return {name: _read_video(os.path.join(output_dir, 'videos', name))
          for name in sorted(os.listdir(os.path.join(output_dir, 'videos')))}


def _csv_bytes(output_dir):
  result = {}
  for split in ('train', 'val', 'test'):
    with open(os.path.join(output_dir, 'annotations', f'{split}.csv'),
              'rb') as f:
      result[split] = f.read()
  return result


def test_same_seed_same_dataset_other_split_other_videos(tmp_path):
  first, second = str(tmp_path / 'a'), str(tmp_path / 'b')
  synthetic.generate_dataset(first, _SMALL)
  synthetic.generate_dataset(second, _SMALL)
  assert _csv_bytes(first) == _csv_bytes(second)
  videos_first, videos_second = _decoded_videos(first), _decoded_videos(second)
  assert sorted(videos_first) == ['test_00000.mp4', 'train_00000.mp4',
                                  'train_00001.mp4', 'val_00000.mp4']
  for name, frames in videos_first.items():
    np.testing.assert_array_equal(frames, videos_second[name])
  # Splits draw different videos.
  assert not np.array_equal(videos_first['train_00000.mp4'],
                            videos_first['val_00000.mp4'])
  assert not np.array_equal(videos_first['train_00000.mp4'],
                            videos_first['train_00001.mp4'])


def test_other_seed_other_dataset_and_videos_independent_of_count(tmp_path):
  base = synthetic.sample_video_scene(_SMALL, 'train', 1)
  more = synthetic.sample_video_scene(
      dataclasses.replace(_SMALL, num_train_videos=7), 'train', 1)
  np.testing.assert_array_equal(base.actors[0].feet_xy,
                                more.actors[0].feet_xy)
  reseeded = synthetic.sample_video_scene(
      dataclasses.replace(_SMALL, seed=1), 'train', 1)
  assert reseeded.background_seed != base.background_seed


def test_class_subset_renumbers_and_drops_rows():
  config = dataclasses.replace(_SMALL, classes=('look_at', 'throw'))
  scene = synthetic.sample_video_scene(config, 'train', 0)
  rows = synthetic.annotation_rows('train_00000', scene, config)
  full = synthetic.annotation_rows('train_00000', scene, _SMALL)
  new_ids = {'look_at': 1, 'throw': 2}
  expected = []
  for row in full:
    fields = row.split(',')
    name = synthetic.CLASS_NAMES[int(fields[6]) - 1]
    if name in new_ids:
      fields[6] = str(new_ids[name])
      expected.append(','.join(fields))
  assert expected and sorted(rows) == sorted(expected)
  assert synthetic.format_label_map(config.classes) == (
      'item {\n  name: "look_at"\n  id: 1\n}\n'
      'item {\n  name: "throw"\n  id: 2\n}\n')


def test_annotation_rows_worked_by_hand():
  actor = synthetic_figure.Actor(
      feet_xy=np.tile([50.0, 80.0], (30, 1)), height=30.0,
      clothing_rgb=(60, 40, 90), skin_rgb=(220, 170, 150),
      arm_angles=np.full((30, 2), 0.5), leg_spread=np.full(30, 0.08),
      head_direction=np.zeros(30))
  scene = synthetic_scene.Scene(
      height=96, width=128, fps=10, num_frames=30, background_seed=0,
      actors=(actor, actor), balls=(), events=(),
      keyframes=(synthetic_scene.Keyframe(2, 20, (('idle',),
                                                  ('hold', 'look_at'))),))
  rows = synthetic.annotation_rows('v', scene, _SMALL)
  # Box [ymin, xmin, ymax, xmax] = [49.0, 39.335, 81.75, 60.665] px (see the
  # scene test), over (96, 128, 96, 128), written x1, y1, x2, y2.
  box = '0.307,0.510,0.474,0.852'
  assert rows == [f'v,0002,{box},6,0', f'v,0002,{box},3,1',
                  f'v,0002,{box},5,1']


def test_write_video_errors(tmp_path):
  frames = np.zeros((3, 48, 64, 3), np.uint8)
  with pytest.raises(synthetic.VideoWriteError, match='cannot open'):
    synthetic.write_video(str(tmp_path / 'x.xyz'), frames, 10, 'mp4v')
  with pytest.raises(ValueError, match=r'x.mp4: frames must be .* got \(3, '
                     r'48, 64\) uint8'):
    synthetic.write_video(str(tmp_path / 'x.mp4'), frames[..., 0], 10, 'mp4v')
  assert os.listdir(tmp_path) == []


def test_write_video_avi(tmp_path):
  frames = np.random.default_rng(0).integers(0, 255, (5, 48, 64, 3),
                                             dtype=np.uint8)
  synthetic.write_video(str(tmp_path / 'x.avi'), frames, 10, 'MJPG')
  assert _read_video(str(tmp_path / 'x.avi')).shape == (5, 48, 64, 3)


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
  path = str(tmp_path / 'out.csv')
  with pytest.raises(RuntimeError):
    with synthetic.atomic_output(path) as temporary:
      with open(temporary, 'w') as f:
        f.write('partial')
      raise RuntimeError('interrupted')
  assert os.listdir(tmp_path) == []
  with synthetic.atomic_output(path) as temporary:
    assert temporary != path and temporary.endswith('.csv')
    with open(temporary, 'w') as f:
      f.write('done')
  assert os.listdir(tmp_path) == ['out.csv']
