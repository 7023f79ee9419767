"""Writes the synthetic relational video dataset in the AVA layout.

The project's bundled default data (docs/synthetic_dataset.md): several
identical stick-figure actors per video throw, catch, hold and pass balls and
look at each other. An actor's own crop cannot tell what it does; its
relations to the balls and the other actors over time can. The dataset is
written as real video files plus AVA v2.x csv annotations and a label map, so
it goes through the same converter as AVA itself:

  <output_dir>/videos/<video_id>.mp4
  <output_dir>/annotations/{train,val,test}.csv
  <output_dir>/annotations/label_map.pbtxt
  <output_dir>/annotations/excluded_timestamps.csv
  <output_dir>/annotations/dataset_info.json

This module holds the writing. The configuration is `synthetic_config`; the
scene sampler `synthetic_scene` (actors from `synthetic_figure`, balls from
`synthetic_balls`, the `stage` preset's layout from `synthetic_stage`); the
renderer `synthetic_render`; the preview image `synthetic_preview`.
"""

import collections
import contextlib
import dataclasses
import json
import os
from typing import Callable, Dict, List, Optional

from absl import logging
import cv2
import numpy as np

from acrn_tf.data.synthetic import synthetic_config
from acrn_tf.data.synthetic import synthetic_render
from acrn_tf.data.synthetic import synthetic_scene

# The configuration is part of this module's API.
SyntheticConfig = synthetic_config.SyntheticConfig
PRESETS = synthetic_config.PRESETS
CLASS_NAMES = synthetic_config.CLASS_NAMES
SPLITS = synthetic_config.SPLITS
get_preset = synthetic_config.get_preset

# progress_fn(split, videos_done, videos_in_split, video_id).
ProgressFn = Callable[[str, int, int, str], None]

VIDEOS_DIR = 'videos'
ANNOTATIONS_DIR = 'annotations'
LABEL_MAP_FILE = 'label_map.pbtxt'
EXCLUDED_TIMESTAMPS_FILE = 'excluded_timestamps.csv'
DATASET_INFO_FILE = 'dataset_info.json'
CSV_COLUMNS = ('video_id', 'middle_frame_timestamp', 'x1', 'y1', 'x2', 'y2',
               'action_id', 'person_id')


class VideoWriteError(RuntimeError):
  """OpenCV could not write a video that reads back with the expected shape."""


def video_id(split: str, video_index: int) -> str:
  """The id of video `video_index` of `split`, e.g. 'train_00003'."""
  return f'{split}_{video_index:05d}'


def sample_video_scene(config: SyntheticConfig, split: str,
                       video_index: int) -> synthetic_scene.Scene:
  """The scene of one video, from its seed (see `video_seed_entropy`)."""
  rng = np.random.default_rng(np.random.SeedSequence(
      synthetic_config.video_seed_entropy(config.seed, split, video_index)))
  return synthetic_scene.sample_scene(rng, config)


def annotation_rows(vid: str, scene: synthetic_scene.Scene,
                    config: SyntheticConfig) -> List[str]:
  """The AVA csv lines of one video, one per (keyframe, actor, action).

  Columns are CSV_COLUMNS: the keyframe second (zero-padded to 4 digits as
  AVA writes it), the actor's box at the keyframe as x1, y1, x2, y2
  normalised to [0, 1] with 3 decimals, the action's label-map id and the
  actor's index as person id. Labels outside config.classes are dropped, and
  so is a box left with none.
  """
  rows = []
  for keyframe in scene.keyframes:
    for person_id, names in enumerate(keyframe.labels):
      ids = sorted(config.class_id(n) for n in names if n in config.classes)
      ymin, xmin, ymax, xmax = synthetic_scene.actor_box(
          scene, person_id, keyframe.frame_index)
      for action_id in ids:
        rows.append(f'{vid},{keyframe.timestamp:04d},{xmin:.3f},{ymin:.3f},'
                    f'{xmax:.3f},{ymax:.3f},{action_id},{person_id}')
  return rows


def format_label_map(classes) -> str:
  """A label map in the OD API / AVA pbtxt format, ids from 1 in order."""
  return ''.join(f'item {{\n  name: "{name}"\n  id: {i + 1}\n}}\n'
                 for i, name in enumerate(classes))


def _temporary_path(path: str) -> str:
  """A hidden sibling of `path` with the same extension."""
  directory, base = os.path.split(path)
  stem, extension = os.path.splitext(base)
  return os.path.join(directory, f'.{stem}.tmp-{os.getpid()}{extension}')


@contextlib.contextmanager
def atomic_output(path: str):
  """Yields a temporary path; renames it to `path` if the block succeeds."""
  temporary = _temporary_path(path)
  try:
    yield temporary
    os.replace(temporary, path)
  finally:
    if os.path.exists(temporary):
      os.remove(temporary)


def _write_text(path: str, text: str) -> None:
  with atomic_output(path) as temporary:
    with open(temporary, 'w', encoding='utf-8') as f:
      f.write(text)


def write_video(path: str, frames: np.ndarray, fps: int, fourcc: str) -> None:
  """Writes RGB frames with OpenCV, checks they read back, then renames.

  Args:
    path: destination; its extension picks the container.
    frames: [num_frames, height, width, 3] uint8 RGB.
    fps: frames per second.
    fourcc: OpenCV four-character codec code ('mp4v', 'MJPG').

  Raises:
    ValueError: if `frames` is not a non-empty [num_frames, height, width, 3]
      uint8 array.
    VideoWriteError: if OpenCV cannot open the writer or the written file
      does not read back with the same frame count and size.
  """
  if (frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8
      or not frames.shape[0]):
    raise ValueError(f'{path}: frames must be [num_frames, height, width, 3] '
                     f'uint8 with num_frames > 0, got {frames.shape} '
                     f'{frames.dtype}')
  num_frames, height, width, _ = frames.shape
  with atomic_output(path) as temporary:
    writer = cv2.VideoWriter(temporary, cv2.VideoWriter_fourcc(*fourcc),
                             float(fps), (width, height))
    if not writer.isOpened():
      raise VideoWriteError(f'{path}: OpenCV cannot open a {fourcc!r} writer '
                            'for this container')
    for frame in frames:
      writer.write(np.ascontiguousarray(frame[..., ::-1]))
    writer.release()
    capture = cv2.VideoCapture(temporary)
    found = (int(capture.get(cv2.CAP_PROP_FRAME_COUNT)),
             int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
             int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)))
    capture.release()
    if found != (num_frames, height, width):
      raise VideoWriteError(
          f'{path}: wrote {num_frames} frames of {height}x{width} with '
          f'{fourcc!r} but OpenCV reads back {found[0]} frames of '
          f'{found[1]}x{found[2]}')


def _count_labels(rows: List[str], config: SyntheticConfig) -> Dict:
  keyframes, boxes = set(), set()
  per_class = collections.Counter()
  for row in rows:
    vid, timestamp, _, _, _, _, action_id, person_id = row.split(',')
    keyframes.add((vid, timestamp))
    boxes.add((vid, timestamp, person_id))
    per_class[config.classes[int(action_id) - 1]] += 1
  return {'num_keyframes': len(keyframes), 'num_boxes': len(boxes),
          'num_rows': len(rows),
          'boxes_per_class': {name: per_class[name]
                              for name in config.classes}}


def generate_dataset(output_dir: str, config: SyntheticConfig,
                     progress_fn: Optional[ProgressFn] = None) -> Dict:
  """Samples, renders and writes every video and annotation file.

  Files already present are overwritten; each file is written under a
  temporary name and renamed when complete.

  Args:
    output_dir: the dataset's root (created if missing).
    config: the dataset's configuration; validated here.
    progress_fn: called after each video as
      progress_fn(split, videos_done, videos_in_split, video_id).

  Returns:
    The contents of dataset_info.json (preset, configuration, seed scheme,
    video format, classes, and per split the videos, keyframes, boxes, csv
    rows and boxes per class) plus 'output_dir'.

  Raises:
    ValueError: for an invalid config.
    VideoWriteError: if the videos cannot be written and read back.
  """
  config.validate()
  videos_dir = os.path.join(output_dir, VIDEOS_DIR)
  annotations_dir = os.path.join(output_dir, ANNOTATIONS_DIR)
  os.makedirs(videos_dir, exist_ok=True)
  os.makedirs(annotations_dir, exist_ok=True)
  splits = {}
  for split in SPLITS:
    rows = []
    num_videos = config.num_videos(split)
    for index in range(num_videos):
      vid = video_id(split, index)
      scene = sample_video_scene(config, split, index)
      write_video(os.path.join(videos_dir, vid + config.video_extension),
                  synthetic_render.render_video(scene), config.fps,
                  config.video_fourcc)
      rows.extend(annotation_rows(vid, scene, config))
      if progress_fn is not None:
        progress_fn(split, index + 1, num_videos, vid)
    csv_path = os.path.join(annotations_dir, f'{split}.csv')
    _write_text(csv_path, ''.join(row + '\n' for row in rows))
    splits[split] = dict(num_videos=num_videos, **_count_labels(rows, config),
                         annotation_csv=os.path.join(ANNOTATIONS_DIR,
                                                     f'{split}.csv'))
    logging.info('synthetic %s: %d videos, %d keyframes, %d boxes -> %s',
                 split, num_videos, splits[split]['num_keyframes'],
                 splits[split]['num_boxes'], csv_path)
  _write_text(os.path.join(annotations_dir, LABEL_MAP_FILE),
              format_label_map(config.classes))
  _write_text(os.path.join(annotations_dir, EXCLUDED_TIMESTAMPS_FILE), '')
  info = {
      'preset': config.preset,
      'config': dataclasses.asdict(config),
      'seed_scheme': (
          'video i of split s (train=0, val=1, test=2) is drawn from '
          'numpy.random.default_rng(numpy.random.SeedSequence((seed, s, i)))'),
      'video_format': {
          'extension': config.video_extension,
          'fourcc': config.video_fourcc, 'fps': config.fps,
          'frame_height': config.frame_height,
          'frame_width': config.frame_width,
          'num_frames': config.num_frames,
          'keyframe_timestamps': list(config.keyframe_timestamps)},
      'classes': [{'id': config.class_id(n), 'name': n}
                  for n in config.classes],
      'splits': splits,
  }
  _write_text(os.path.join(annotations_dir, DATASET_INFO_FILE),
              json.dumps(info, indent=2) + '\n')
  return dict(info, output_dir=output_dir)
