"""Reads JHMDB annotations into KeyframeAnnotations.

Two layouts are found in the wild:

* The original distribution:
    <root>/Rename_Images/<class>/<video>/00001.png ...   the frames
    <root>/puppet_mask/<class>/<video>/puppet_mask.mat   `part_mask`, an
        H x W x num_frames array; the actor's box in a frame is the extent of
        its non-zero pixels
    <root>/splits/<class>_test_split<k>.txt              lines
        `<video>.avi <1|2>`, 1 = training, 2 = testing
* The `JHMDB-GT.pkl` file used by most action-detection code: a pickled dict
  with `labels` (class names), `gttubes` ({video: {label_index: [tube]}},
  a tube being rows `frame, x1, y1, x2, y2` with 1-based frames and absolute
  pixels), `nframes` ({video: n}), `resolution` ({video: (height, width)}),
  and `train_videos` / `test_videos` (one list of videos per split); frames
  under <frames_root>/<video>/00001.<ext>, where video is `<class>/<name>`.

JHMDB has one actor and one label per video; every annotated frame is a
keyframe (use `keyframe_stride` to thin the training set).
"""

import os
import pickle
import re
from typing import Dict, List, Sequence

import numpy as np

from acrn_tf.data.conversion import annotations

JHMDB_CLASSES = (
    'brush_hair', 'catch', 'clap', 'climb_stairs', 'golf', 'jump',
    'kick_ball', 'pick', 'pour', 'pullup', 'push', 'run', 'shoot_ball',
    'shoot_bow', 'shoot_gun', 'sit', 'stand', 'swing_baseball', 'throw',
    'walk', 'wave')
JHMDB_FPS = 30.0
_SPLIT_LINE = re.compile(r'^(?P<video>\S+?)(\.avi)?\s+(?P<set>[12])\s*$')


class JhmdbFormatError(ValueError):
  """A JHMDB file that does not have the expected layout."""


def label_map() -> Dict[int, str]:
  """The JHMDB label map: the 21 classes in alphabetical order, ids 1..21."""
  return {i + 1: name for i, name in enumerate(JHMDB_CLASSES)}


def read_split_file(path: str) -> Dict[str, bool]:
  """Reads `<class>_test_split<k>.txt`; returns {video name: is_training}."""
  videos = {}
  with open(path, encoding='utf-8') as f:
    for line_number, line in enumerate(f, start=1):
      if not line.strip():
        continue
      match = _SPLIT_LINE.match(line.strip())
      if not match:
        raise JhmdbFormatError(
            f'{path}:{line_number}: expected `<video>.avi <1|2>`, got '
            f'{line.strip()!r}')
      videos[match.group('video')] = match.group('set') == '1'
  return videos


def boxes_from_puppet_mask(path: str) -> np.ndarray:
  """Reads puppet_mask.mat; returns [num_frames, 4] normalised boxes.

  Frames whose mask is empty get NaN boxes (the caller skips them).
  """
  import scipy.io  # pylint: disable=g-import-not-at-top
  try:
    content = scipy.io.loadmat(path)
  except Exception as e:  # scipy raises several unrelated types.
    raise JhmdbFormatError(f'{path}: cannot read the .mat file: {e}') from e
  if 'part_mask' not in content:
    found = sorted(k for k in content if not k.startswith('__'))
    raise JhmdbFormatError(
        f'{path}: no `part_mask` variable (found {found})')
  mask = np.asarray(content['part_mask'])
  if mask.ndim == 2:
    mask = mask[:, :, np.newaxis]
  if mask.ndim != 3:
    raise JhmdbFormatError(f'{path}: part_mask has shape {mask.shape}, '
                           'expected height x width x frames')
  height, width, num_frames = mask.shape
  boxes = np.full((num_frames, 4), np.nan, dtype=np.float64)
  for t in range(num_frames):
    ys, xs = np.nonzero(mask[:, :, t])
    if ys.size:
      # Pixel extents: pixel i covers [i, i + 1).
      boxes[t] = (ys.min() / height, xs.min() / width,
                  (ys.max() + 1) / height, (xs.max() + 1) / width)
  return boxes


def _frame_dir_sorted(path):
  if not os.path.isdir(path):
    return None
  return sorted(f for f in os.listdir(path) if not f.startswith('.'))


def read_original(root: str, split: int, subset: str,
                  keyframe_stride: int = 1,
                  classes: Sequence[str] = JHMDB_CLASSES
                  ) -> List[annotations.KeyframeAnnotation]:
  """Reads the original JHMDB distribution.

  Args:
    root: the folder holding Rename_Images/, puppet_mask/ and splits/.
    split: 1, 2 or 3.
    subset: 'train' or 'test'.
    keyframe_stride: keep every n-th annotated frame (1 keeps all).
    classes: class names in label-id order (ids from 1).

  Returns:
    One KeyframeAnnotation per kept frame, in class, video, frame order.
  """
  _check_split_args(split, subset, keyframe_stride)
  result = []
  for label_id, name in enumerate(classes, start=1):
    split_path = os.path.join(root, 'splits', f'{name}_test_split{split}.txt')
    if not os.path.exists(split_path):
      raise JhmdbFormatError(f'{split_path}: split file missing')
    for video, is_training in sorted(read_split_file(split_path).items()):
      if is_training != (subset == 'train'):
        continue
      mask_path = os.path.join(root, 'puppet_mask', name, video,
                               'puppet_mask.mat')
      frames_dir = os.path.join(root, 'Rename_Images', name, video)
      boxes = boxes_from_puppet_mask(mask_path)
      result.extend(_keyframes(f'{name}/{video}', frames_dir, boxes,
                               label_id, keyframe_stride, mask_path))
  return result


def _load_gt_pkl(pkl_path: str) -> Dict:
  """The JHMDB-GT.pkl dict, checked for the keys the readers use."""
  with open(pkl_path, 'rb') as f:
    try:
      gt = pickle.load(f, encoding='latin1')
    except Exception as e:  # pickle raises many types on a bad file.
      raise JhmdbFormatError(f'{pkl_path}: not a readable pickle: {e}') from e
  if not isinstance(gt, dict):
    raise JhmdbFormatError(f'{pkl_path}: expected a dict, got '
                           f'{type(gt).__name__}')
  for key in ('labels', 'gttubes', 'nframes', 'resolution', 'train_videos',
              'test_videos'):
    if key not in gt:
      raise JhmdbFormatError(f'{pkl_path}: missing key {key!r}')
  return gt


def gt_pkl_label_map(pkl_path: str) -> Dict[int, str]:
  """{id: name} from the pickle's `labels` (index i is id i + 1).

  The ids are those `read_gt_pkl` gives its keyframes' labels.
  """
  return {i + 1: str(name)
          for i, name in enumerate(_load_gt_pkl(pkl_path)['labels'])}


def read_gt_pkl(pkl_path: str, frames_root: str, split: int, subset: str,
                keyframe_stride: int = 1
                ) -> List[annotations.KeyframeAnnotation]:
  """Reads the JHMDB-GT.pkl layout (see the module docstring)."""
  _check_split_args(split, subset, keyframe_stride)
  gt = _load_gt_pkl(pkl_path)
  lists = gt['train_videos' if subset == 'train' else 'test_videos']
  if len(lists) < split:
    raise JhmdbFormatError(f'{pkl_path}: {subset}_videos has {len(lists)} '
                           f'splits, split {split} asked for')
  result = []
  for video in sorted(lists[split - 1]):
    if video not in gt['gttubes']:
      raise JhmdbFormatError(f'{pkl_path}: video {video!r} has no gttubes')
    height, width = gt['resolution'][video]
    num_frames = int(gt['nframes'][video])
    for label_index, tubes in sorted(gt['gttubes'][video].items()):
      label_id = int(label_index) + 1
      if not 1 <= label_id <= len(gt['labels']):
        raise JhmdbFormatError(f'{pkl_path}: video {video!r} has label index '
                               f'{label_index}, outside the '
                               f'{len(gt["labels"])} labels')
      for tube in tubes:
        tube = np.asarray(tube, dtype=np.float64)
        boxes = np.full((num_frames, 4), np.nan)
        for frame, x1, y1, x2, y2 in tube:
          index = int(frame) - 1
          if not 0 <= index < num_frames:
            raise JhmdbFormatError(
                f'{pkl_path}: video {video!r} tube frame {int(frame)} '
                f'outside 1..{num_frames}')
          boxes[index] = (y1 / height, x1 / width, y2 / height, x2 / width)
        result.extend(_keyframes(video, os.path.join(frames_root, video),
                                 boxes, label_id, keyframe_stride, pkl_path))
  return result


def _check_split_args(split, subset, keyframe_stride):
  if split not in (1, 2, 3):
    raise ValueError(f'split must be 1, 2 or 3, got {split}')
  if subset not in ('train', 'test'):
    raise ValueError(f"subset must be 'train' or 'test', got {subset!r}")
  if keyframe_stride < 1:
    raise ValueError(f'keyframe_stride must be >= 1, got {keyframe_stride}')


def _keyframes(video_id, frames_dir, boxes, label_id, keyframe_stride, source):
  """One KeyframeAnnotation per annotated frame, every keyframe_stride-th."""
  annotated = [t for t in range(len(boxes)) if not np.isnan(boxes[t, 0])]
  result = []
  for t in annotated[::keyframe_stride]:
    box = tuple(float(np.clip(v, 0.0, 1.0)) for v in boxes[t])
    result.append(annotations.KeyframeAnnotation(
        video_id=video_id,
        video_path=frames_dir,
        keyframe_timestamp=t / JHMDB_FPS,
        keyframe_frame_number=t,
        boxes=(box,),
        labels=((label_id,),),
        track_ids=(0,),
        source=f'{source} (frame {t + 1})'))
  return result
