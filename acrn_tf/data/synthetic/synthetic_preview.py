"""A PNG of a few synthetic clips with their ground-truth boxes and labels.

Used for docs/images/synthetic_frames.png and by `make demo`. Frames come
from the scene renderer (the same pixels the video encoder receives).
"""

import os
from typing import List, Optional, Sequence, Tuple

from matplotlib import figure as matplotlib_figure
from matplotlib import patches
import numpy as np

from acrn_tf.data.synthetic import synthetic
from acrn_tf.data.synthetic import synthetic_figure
from acrn_tf.data.synthetic import synthetic_render
from acrn_tf.data.synthetic import synthetic_scene

_ROW_EVENTS = ('pass', 'incoming', 'throw_away')
_BOX_COLOURS = ('#ff3b30', '#34c759', '#0a84ff', '#ffcc00', '#bf5af2',
                '#64d2ff')
_SCALE_INCHES = 2.6   # width of one panel
_DPI = 100
# Frames at least this many times wider than high are drawn one under the
# other (the stage preset's 96 x 960).
_WIDE_ASPECT = 4


def find_example_keyframes(config: synthetic.SyntheticConfig, split: str,
                           kinds: Sequence[str], max_videos: int = 50
                           ) -> List[Tuple[int, synthetic_scene.BallEvent]]:
  """For each event kind, the first (video index, event) of that kind.

  Args:
    config: the dataset's configuration.
    split: 'train', 'val' or 'test'.
    kinds: BallEvent kinds ('pass', 'hold', 'throw_away', 'incoming').
    max_videos: how many videos of the split to search.

  Returns:
    One (video_index, event) per kind found, in `kinds` order, each from a
    different video where possible.
  """
  by_kind = {kind: [] for kind in kinds}
  for index in range(min(max_videos, config.num_videos(split))):
    scene = synthetic.sample_video_scene(config, split, index)
    for kind in kinds:
      events = [e for e in scene.events if e.kind == kind]
      if events:
        by_kind[kind].append((index, events[0]))
  found, used = [], set()
  for kind in kinds:
    candidates = by_kind[kind]
    fresh = [c for c in candidates if c[0] not in used]
    if fresh or candidates:
      found.append((fresh or candidates)[0])
      used.add(found[-1][0])
  return found


def write_preview_png(path: str, config: synthetic.SyntheticConfig,
                      split: str = 'train',
                      num_frames: Optional[int] = None) -> str:
  """Draws rows of clip frames with every actor's box and keyframe labels.

  Each row is one keyframe of one video of `split` (a pass, a catch of a
  ball coming from nobody, a throw to nobody), shown at `num_frames` frames
  spread from just before the release to just after the arrival. Boxes are
  the actors' boxes in each frame; the labels are the keyframe's. Wide
  frames (the stage preset's) are drawn one under the other instead, each
  clip's frames in turn.

  Args:
    path: the PNG to write (atomically).
    config: the dataset's configuration.
    split: which split's videos to show.
    num_frames: frames per clip; by default 5, or 3 for wide frames.

  Returns:
    `path`.

  Raises:
    ValueError: if no video of the split has any of the events shown.
  """
  wide = config.frame_width >= _WIDE_ASPECT * config.frame_height
  if num_frames is None:
    num_frames = 3 if wide else 5
  examples = find_example_keyframes(config, split, _ROW_EVENTS)
  if not examples:
    raise ValueError(f'No {split} video of this config has any of the events '
                     f'{_ROW_EVENTS} to preview')
  aspect = config.frame_height / config.frame_width
  if wide:
    # Wide stage frames: each clip's frames one under the other, at about
    # one pixel per pixel, so that arms and balls stay visible.
    width = config.frame_width / _DPI
    figure = matplotlib_figure.Figure(figsize=(
        width, (width * aspect + 0.25) * len(examples) * num_frames))
    column_axes = figure.subplots(len(examples) * num_frames, 1,
                                  squeeze=False)
    axes = column_axes.reshape(len(examples), num_frames)
  else:
    figure = matplotlib_figure.Figure(figsize=(
        _SCALE_INCHES * num_frames,
        (_SCALE_INCHES * aspect + 0.5) * len(examples)))
    axes = figure.subplots(len(examples), num_frames, squeeze=False)
  half = config.flight_half_frames + 1
  for row, (index, event) in enumerate(examples):
    scene = synthetic.sample_video_scene(config, split, index)
    keyframe = next(k for k in scene.keyframes
                    if k.timestamp == event.timestamp)
    frames = np.round(np.linspace(keyframe.frame_index - half,
                                  keyframe.frame_index + half,
                                  num_frames)).astype(int)
    background = synthetic_render.render_background(scene)
    for column, frame_index in enumerate(frames):
      ax = axes[row, column]
      ax.imshow(synthetic_render.render_frame(scene, frame_index, background),
                interpolation='nearest')
      ax.set_axis_off()
      offset = (frame_index - keyframe.frame_index) / config.fps
      title = f'{offset:+.1f} s'
      if offset == 0:
        title = (f'{synthetic.video_id(split, index)} keyframe '
                 f't={keyframe.timestamp} s')
      ax.set_title(title, fontsize=8)
      for actor_index, labels in enumerate(keyframe.labels):
        ymin, xmin, ymax, xmax = synthetic_figure.actor_box_absolute(
            scene.actors[actor_index], frame_index)
        colour = _BOX_COLOURS[actor_index % len(_BOX_COLOURS)]
        ax.add_patch(patches.Rectangle(
            (xmin - 0.5, ymin - 0.5), xmax - xmin, ymax - ymin, fill=False,
            edgecolor=colour, linewidth=1.2))
        # Labels above the box, or inside its top when it touches the top.
        above = ymin > 0.1 * config.frame_height
        ax.text(xmin - 0.5, ymin - 1.5 if above else ymin + 0.5,
                '+'.join(labels), fontsize=6, color='black',
                va='bottom' if above else 'top', clip_on=True,
                bbox=dict(facecolor=colour, alpha=0.7, pad=0.8, linewidth=0))
  figure.tight_layout(pad=0.3)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with synthetic.atomic_output(path) as temporary:
    figure.savefig(temporary, format='png', dpi=_DPI)
  return path
