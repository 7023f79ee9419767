"""accuracy_heatmaps: the clip read around a keyframe and the tiling.

Rendering a trained model's heat maps is exercised end to end by
accuracy_test (it needs a trained run).
"""

import cv2
import numpy as np

from benchmarks import accuracy_heatmaps


def _write_numbered_video(path, num_frames=12, fps=10):
  """Frame k is uniformly grey 20 * k (survives MJPG compression)."""
  writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), fps,
                           (32, 24))
  for k in range(num_frames):
    writer.write(np.full((24, 32, 3), 20 * k, np.uint8))
  writer.release()
  return path


def _numbers(frames):
  return [int(round(float(np.mean(f)) / 20)) for f in frames]


def test_read_clip_is_centred_on_the_keyframe(tmp_path):
  video = _write_numbered_video(str(tmp_path / 'v.avi'))
  clip, keyframe = accuracy_heatmaps.read_clip(video, 0.5, 4)
  assert clip.shape == (4, 24, 32, 3) and clip.dtype == np.uint8
  # Keyframe 5 at index 4 // 2 = 2: frames 3, 4, 5, 6.
  assert _numbers(clip) == [3, 4, 5, 6]
  assert _numbers([keyframe]) == [5]


def test_read_clip_clamps_at_the_ends_with_a_stride(tmp_path):
  video = _write_numbered_video(str(tmp_path / 'v.avi'))
  clip, _ = accuracy_heatmaps.read_clip(video, 1.0, 4, frame_stride=2)
  # Keyframe 10: 6, 8, 10, 12 -> 11 (the last frame).
  assert _numbers(clip) == [6, 8, 10, 11]


def test_tile_fills_rows_then_leaves_black():
  images = [np.full((2, 3, 3), v, np.uint8) for v in (10, 20, 30)]
  grid = accuracy_heatmaps.tile(images, columns=2)
  assert grid.shape == (4, 6, 3)
  assert grid[0, 0, 0] == 10 and grid[0, 3, 0] == 20
  assert grid[2, 0, 0] == 30 and grid[2, 3, 0] == 0


def test_wide_frames_are_enlarged_less_and_tiled_in_fewer_columns():
  # 96 x 960 (stage): enlarged to a shorter side of 160, i.e. 1600 wide.
  assert accuracy_heatmaps.shorter_side_within((96, 960, 3), 240, 1600) == 160
  # 64 x 80: the shorter side asked for fits.
  assert accuracy_heatmaps.shorter_side_within((64, 80, 3), 240, 1600) == 240
  # Rows up to 2 * 1600 px: 1600-wide frames (panels below) two per row,
  # wider ones alone, 450-wide ones (300 + 150 of panels) three.
  assert accuracy_heatmaps.grid_columns(1600, 3, 1600) == 2
  assert accuracy_heatmaps.grid_columns(3201, 3, 1600) == 1
  assert accuracy_heatmaps.grid_columns(450, 3, 1600) == 3
