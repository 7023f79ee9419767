"""A PNG of a trained ACRN's relation heat maps on a few test keyframes.

The accuracy benchmark asks whether ACRN's relations look where the action
is (the ball thrown or caught, the other actor). This module runs a trained
run's checkpoint (`inference.detectors.CheckpointDetector`) on keyframes of
the synthetic test videos, draws the detections and their heat maps as
`infer_video` does (`inference.rendering.render_frame`) and tiles the frames
into one image.
"""

import os
from typing import Sequence, Tuple

import cv2
import numpy as np

from acrn_tf.data.conversion import video_io
from acrn_tf.inference import detectors
from acrn_tf.inference import rendering


def read_clip(video_path: str, keyframe_second: float, frames_per_clip: int,
              frame_stride: int = 1) -> Tuple[np.ndarray, np.ndarray]:
  """The clip centred on a keyframe, and the keyframe, as uint8 RGB.

  Frames before the start or after the end repeat the first or last frame,
  as in the converters (`video_io.clip_frame_numbers`).
  """
  with video_io.open_video(video_path) as reader:
    keyframe = video_io.frame_number_at(keyframe_second, reader.info.fps)
    numbers = video_io.clip_frame_numbers(
        keyframe, reader.info.num_frames, frames_per_clip,
        frame_stride).frame_numbers
    frames = reader.read_frames(list(numbers) + [keyframe])
  return np.stack(frames[:-1]), frames[-1]


def tile(images: Sequence[np.ndarray], columns: int) -> np.ndarray:
  """Images of one size in a grid, row by row (black where none is left)."""
  height, width = images[0].shape[:2]
  rows = -(-len(images) // columns)
  grid = np.zeros((rows * height, columns * width, 3), np.uint8)
  for i, image in enumerate(images):
    r, c = divmod(i, columns)
    grid[r * height:(r + 1) * height, c * width:(c + 1) * width] = image
  return grid


def shorter_side_within(frame_shape: Sequence[int], shorter_side: int,
                        max_width: int) -> int:
  """The shorter side to enlarge a frame to: shorter_side, unless the
  frame would then be wider than max_width."""
  height, width = frame_shape[:2]
  return min(shorter_side, max_width * min(height, width) // width)


def grid_columns(rendered_width: int, columns: int, max_width: int) -> int:
  """Frames per grid row: at most columns, and no row wider than
  2 * max_width (one frame at least)."""
  return min(columns, max(1, 2 * max_width // rendered_width))


def write_heatmaps_png(pipeline_config_path: str, checkpoint: str,
                       videos: Sequence[str], keyframe_second: float,
                       output_path: str, min_score: float = 0.3,
                       shorter_side: int = 240, max_width: int = 1600,
                       columns: int = 3) -> str:
  """Renders the detections and heat maps of each video's keyframe.

  Args:
    pipeline_config_path: the run's pipeline.config.
    checkpoint: a checkpoint prefix or the run's directory.
    videos: test video files.
    keyframe_second: the keyframe's time in every video.
    output_path: the PNG to write.
    min_score: detections below this score are not drawn.
    shorter_side: frames are enlarged to this shorter side first, unless
      that makes them wider than max_width.
    max_width: the widest a frame is enlarged to; the `stage` preset's
      96 x 960 frames reach it at a shorter side of 160.
    columns: the most frames per row of the grid; fewer when the rendered
      frames (with their heat-map panels) would make a row wider than
      2 * max_width.

  Returns:
    output_path.
  """
  detector = detectors.CheckpointDetector(pipeline_config_path, checkpoint)
  height, width = detector.image_size
  rendered = []
  for video in videos:
    clip, keyframe = read_clip(video, keyframe_second,
                               detector.frames_per_clip,
                               detector.frame_stride)
    clip = np.stack([cv2.resize(f, (width, height),
                                interpolation=cv2.INTER_AREA) for f in clip])
    detections = detector.detect(clip)
    frame = rendering.render_frame(
        keyframe, detections, detector.label_map, min_score=min_score,
        min_shorter_side=shorter_side_within(keyframe.shape, shorter_side,
                                             max_width))
    cv2.putText(frame, os.path.splitext(os.path.basename(video))[0], (4, 14),
                cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1,
                cv2.LINE_AA)
    rendered.append(frame)
  rendering.write_png(output_path, tile(
      rendered, grid_columns(rendered[0].shape[1], columns, max_width)))
  return output_path
