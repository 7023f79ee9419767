"""The preview PNG of synthetic clips with boxes and labels."""

import dataclasses
import os

import cv2
import pytest

from acrn_tf.data.synthetic import synthetic
from acrn_tf.data.synthetic import synthetic_preview

_TINY = synthetic.PRESETS['tiny']


def test_find_example_keyframes_picks_one_video_per_kind():
  examples = synthetic_preview.find_example_keyframes(
      _TINY, 'train', ('pass', 'incoming', 'throw_away'))
  assert [event.kind for _, event in examples] == [
      'pass', 'incoming', 'throw_away']
  assert len({index for index, _ in examples}) == 3
  for index, event in examples:
    scene = synthetic.sample_video_scene(_TINY, 'train', index)
    assert event in scene.events


def test_write_preview_png(tmp_path):
  path = str(tmp_path / 'docs' / 'frames.png')
  assert synthetic_preview.write_preview_png(path, _TINY) == path
  image = cv2.imread(path)
  # Three rows of five panels, 2.6 inches each at 100 dpi.
  assert image.shape[1] == 1300
  assert 600 < image.shape[0] < 1000
  assert image.std() > 20
  assert os.listdir(tmp_path / 'docs') == ['frames.png']


def test_write_preview_png_without_events_raises(tmp_path):
  config = dataclasses.replace(_TINY, num_train_videos=0)
  with pytest.raises(ValueError, match='No train video'):
    synthetic_preview.write_preview_png(str(tmp_path / 'p.png'), config)


def test_wide_stage_frames_are_drawn_one_under_the_other(tmp_path):
  config = dataclasses.replace(synthetic.PRESETS['stage'], num_train_videos=6)
  path = synthetic_preview.write_preview_png(str(tmp_path / 'stage.png'),
                                             config)
  image = cv2.imread(path)
  # One column at one pixel per frame pixel: 960 wide; three clips of three
  # frames (the default for wide frames), each 96 px high plus its title.
  assert image.shape[1] == 960
  assert 9 * 96 < image.shape[0] < 9 * 140
