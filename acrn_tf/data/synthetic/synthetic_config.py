"""Configuration and presets of the synthetic relational video dataset.

The dataset itself is described in docs/synthetic_dataset.md; the scene
sampler is `synthetic_scene`, the renderer `synthetic_render` and the writer
`synthetic`.
"""

import dataclasses
from typing import Dict, Tuple

# Action classes in label-map order: class CLASS_NAMES[i] has id i + 1.
CLASS_NAMES = ('throw', 'catch', 'hold', 'pass', 'look_at', 'idle')

# The classes another actor decides (the one passed to, the one looked at):
# the accuracy benchmark reports their mean AP as the relation mAP.
RELATION_CLASSES = ('pass', 'look_at')

# Splits in seed order: split SPLITS[i] draws its videos from seed entropy
# (seed, i, video_index), see `video_seed_entropy`.
SPLITS = ('train', 'val', 'test')

# Video containers and the fourcc OpenCV writes them with; both read back with
# OpenCV's FFmpeg backend.
VIDEO_FORMATS = {'.mp4': 'mp4v', '.avi': 'MJPG'}


@dataclasses.dataclass(frozen=True)
class SyntheticConfig:
  """Everything that decides the generated dataset.

  Attributes:
    preset: the preset this config came from ('tiny', 'benchmark') or
      'custom'; recorded in dataset_info.json only.
    seed: base seed; with the split index and the video index it seeds each
      video (see `video_seed_entropy`).
    num_train_videos, num_val_videos, num_test_videos: videos per split.
    frame_height, frame_width: frame size in pixels.
    fps: frames per second (an integer, so keyframes fall on frames).
    duration_seconds: length of every video; keyframes are at the integer
      seconds 1 .. duration_seconds - 1.
    min_actors, max_actors: actors per video, drawn uniformly.
    actor_height_fraction: an actor's height as a fraction of frame_height
      (each actor is scaled by a random factor in [0.9, 1.1] on top).
    max_play_balls: at most this many balls take part in throws and catches
      (also never more than actors - 1).
    min_distractor_balls, max_distractor_balls: balls that bounce around the
      frame and never interact with anyone.
    walking_probability: chance that an actor paces back and forth all video.
    pass_probability: chance that an actor holding a ball passes it to
      another actor during a keyframe window.
    throw_away_probability: chance that an actor holding a ball throws it
      where nobody is (out of the frame or onto the ground).
    incoming_probability: chance that a ball nobody holds flies to a free
      actor during a keyframe window.
    flight_seconds: how long a thrown ball is in the air; the flight is
      centred on the keyframe.
    classes: the class names written to the label map and the csv, a subset
      of CLASS_NAMES in any order; ids are their positions + 1.
    video_extension: '.mp4' (fourcc mp4v) or '.avi' (fourcc MJPG).
  """
  preset: str = 'custom'
  seed: int = 0
  num_train_videos: int = 24
  num_val_videos: int = 8
  num_test_videos: int = 8
  frame_height: int = 96
  frame_width: int = 128
  fps: int = 10
  duration_seconds: int = 6
  min_actors: int = 2
  max_actors: int = 4
  actor_height_fraction: float = 0.3
  max_play_balls: int = 2
  min_distractor_balls: int = 0
  max_distractor_balls: int = 2
  walking_probability: float = 0.3
  pass_probability: float = 0.5
  throw_away_probability: float = 0.2
  incoming_probability: float = 0.6
  flight_seconds: float = 0.6
  classes: Tuple[str, ...] = CLASS_NAMES
  video_extension: str = '.mp4'

  @property
  def num_frames(self) -> int:
    """Frames per video."""
    return self.fps * self.duration_seconds

  @property
  def flight_half_frames(self) -> int:
    """Frames from a throw's release to the keyframe (= keyframe to arrival)."""
    return max(1, int(round(self.fps * self.flight_seconds / 2)))

  @property
  def video_fourcc(self) -> str:
    """The fourcc OpenCV writes `video_extension` with."""
    return VIDEO_FORMATS[self.video_extension]

  @property
  def keyframe_timestamps(self) -> Tuple[int, ...]:
    """Keyframe seconds: every integer second but the first and the last."""
    return tuple(range(1, self.duration_seconds))

  def num_videos(self, split: str) -> int:
    """Videos in `split` ('train', 'val' or 'test')."""
    return {'train': self.num_train_videos, 'val': self.num_val_videos,
            'test': self.num_test_videos}[split]

  def class_id(self, name: str) -> int:
    """The label-map id of class `name` (1-based position in `classes`)."""
    return self.classes.index(name) + 1

  def validate(self) -> 'SyntheticConfig':
    """Raises ValueError naming the first field with an impossible value."""

    def fail(field, expected):
      raise ValueError(f'SyntheticConfig.{field} = {getattr(self, field)!r}: '
                       f'expected {expected}')

    for field in ('num_train_videos', 'num_val_videos', 'num_test_videos',
                  'min_distractor_balls'):
      if getattr(self, field) < 0:
        fail(field, 'a count >= 0')
    if self.frame_height < 48:
      fail('frame_height', '>= 48 pixels')
    if self.frame_width < 48:
      fail('frame_width', '>= 48 pixels')
    if self.fps < 4:
      fail('fps', 'an integer >= 4')
    if self.duration_seconds < 3:
      fail('duration_seconds', '>= 3 (keyframes skip the first and last '
           'second)')
    if self.min_actors < 2:
      fail('min_actors', '>= 2 (relations need two actors)')
    if self.max_actors < self.min_actors:
      fail('max_actors', f'>= min_actors ({self.min_actors})')
    if self.max_actors > 6:
      fail('max_actors', '<= 6')
    if not 0.15 <= self.actor_height_fraction <= 0.45:
      fail('actor_height_fraction', 'in [0.15, 0.45]')
    if self.max_play_balls < 1:
      fail('max_play_balls', '>= 1')
    if self.max_distractor_balls < self.min_distractor_balls:
      fail('max_distractor_balls',
           f'>= min_distractor_balls ({self.min_distractor_balls})')
    for field in ('walking_probability',
                  'pass_probability', 'throw_away_probability',
                  'incoming_probability'):
      if not 0.0 <= getattr(self, field) <= 1.0:
        fail(field, 'a probability in [0, 1]')
    if self.pass_probability + self.throw_away_probability > 1.0:
      fail('throw_away_probability',
           f'<= 1 - pass_probability ({1.0 - self.pass_probability:g})')
    if not 2 * self.flight_half_frames < self.fps:
      fail('flight_seconds', f'shorter than one second at {self.fps} fps '
           '(flights of neighbouring keyframes must not overlap)')
    if not self.classes:
      fail('classes', 'at least one class')
    unknown = [name for name in self.classes if name not in CLASS_NAMES]
    if unknown:
      fail('classes', f'names from {CLASS_NAMES}; unknown: {unknown}')
    if len(set(self.classes)) != len(self.classes):
      fail('classes', 'no duplicates')
    if self.video_extension not in VIDEO_FORMATS:
      fail('video_extension', f'one of {sorted(VIDEO_FORMATS)}')
    return self


PRESETS: Dict[str, SyntheticConfig] = {
    # The tests and `make demo`: 40 videos of 6 s at 10 fps, 96x128, written
    # in a few seconds. 120 train keyframes, 360 train boxes.
    'tiny': SyntheticConfig(preset='tiny'),
    # The accuracy benchmark: 360 videos of 8 s at 10 fps, 96x128. 1680 train
    # keyframes (~5000 boxes), 420 val and 420 test keyframes.
    'benchmark': SyntheticConfig(
        preset='benchmark', num_train_videos=240, num_val_videos=60,
        num_test_videos=60, duration_seconds=8),
}


def get_preset(name: str, **overrides) -> SyntheticConfig:
  """Returns preset `name` with `overrides` (field=value) applied, validated.

  Raises:
    ValueError: for an unknown preset, an unknown field or a bad value.
  """
  if name not in PRESETS:
    raise ValueError(f'Unknown synthetic preset {name!r}; expected one of '
                     f'{sorted(PRESETS)}')
  fields = {f.name for f in dataclasses.fields(SyntheticConfig)}
  unknown = sorted(set(overrides) - fields)
  if unknown:
    raise ValueError(f'Unknown SyntheticConfig fields {unknown}; expected '
                     f'some of {sorted(fields)}')
  return dataclasses.replace(PRESETS[name], **overrides).validate()


def video_seed_entropy(seed: int, split: str, video_index: int):
  """The np.random.SeedSequence entropy of one video: (seed, split, index).

  Splits never share a video's random stream (the split index is part of the
  entropy), and a video does not depend on how many videos its split has.
  """
  return (int(seed), SPLITS.index(split), int(video_index))
