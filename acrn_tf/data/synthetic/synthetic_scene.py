"""What happens in a synthetic relational video: actors, balls and labels.

A scene is sampled from a `np.random.Generator` and a `SyntheticConfig` as
plain numbers (tracks in absolute pixels, labels per keyframe); how it looks
is `synthetic_render`'s business, and the actors' figure
`synthetic_figure`'s. Coordinates are continuous pixels with the origin at
the frame's top-left corner (see synthetic_figure); points are (x, y), boxes
[ymin, xmin, ymax, xmax].

Every keyframe (integer second t, frame t * fps) owns the window of frames
[t * fps - fps // 2, t * fps - fps // 2 + fps): a throw in that window
releases the ball at t * fps - flight_half_frames and it arrives at
t * fps + flight_half_frames, so the keyframe itself shows the ball in mid
air and only the frames around it tell who threw and who caught.
"""

import dataclasses
import math
from typing import List, Optional, Sequence, Tuple

import numpy as np

from acrn_tf.data.synthetic import synthetic_balls
from acrn_tf.data.synthetic import synthetic_config
from acrn_tf.data.synthetic import synthetic_figure
from acrn_tf.data.synthetic import synthetic_stage
# Re-exported: the parts of a Scene.
from acrn_tf.data.synthetic.synthetic_balls import Ball
from acrn_tf.data.synthetic.synthetic_balls import BallEvent
from acrn_tf.data.synthetic.synthetic_figure import Actor

# look_at: an actor looks at another if its head direction is within
# _LOOK_THRESHOLD of the direction to the other's head. Head directions are
# left or right tilted by up to _MAX_HEAD_TILT; draws whose smallest angle to
# an actor falls in _LOOK_AMBIGUOUS are redrawn (up to _MAX_HEAD_DRAWS times).
_LOOK_THRESHOLD = math.radians(25)
_MAX_HEAD_TILT = math.radians(25)
_LOOK_AMBIGUOUS = (math.radians(18), math.radians(32))
_MAX_HEAD_DRAWS = 20

_MAX_PLACEMENT_TRIES = 200


@dataclasses.dataclass(frozen=True)
class Keyframe:
  """The labels of every actor at one keyframe.

  Attributes:
    timestamp: seconds (an integer).
    frame_index: 0-based frame of the keyframe, timestamp * fps.
    labels: per actor (in Scene.actors order), its class names in
      CLASS_NAMES order; never empty (every actor is idle or handles a ball).
  """
  timestamp: int
  frame_index: int
  labels: Tuple[Tuple[str, ...], ...]


@dataclasses.dataclass(frozen=True)
class Scene:
  """A whole synthetic video, before rendering."""
  height: int
  width: int
  fps: int
  num_frames: int
  background_seed: int
  actors: Tuple[Actor, ...]
  balls: Tuple[Ball, ...]
  events: Tuple[BallEvent, ...]
  keyframes: Tuple[Keyframe, ...]
  # look_at's distance limit in pixels (config.look_range_px; 0: none).
  look_range_px: float = 0.0


def actor_box(scene: Scene, actor_index: int, frame_index: int) -> np.ndarray:
  """The actor's box normalised to [0, 1], clipped to the frame.

  Returns:
    [4] float64 [ymin, xmin, ymax, xmax], normalised by the frame size.
  """
  box = synthetic_figure.actor_box_absolute(scene.actors[actor_index],
                                            frame_index)
  box /= np.array([scene.height, scene.width, scene.height, scene.width])
  return np.clip(box, 0.0, 1.0)


def _angle_diff(a, b):
  """Absolute difference of angles in radians, in [0, pi]."""
  return np.abs((np.asarray(a) - np.asarray(b) + np.pi) % (2 * np.pi) - np.pi)


def _slot_of_frame(config, num_frames: int) -> np.ndarray:
  """[num_frames] int: the keyframe second whose window holds each frame."""
  frames = np.arange(num_frames)
  slots = (frames + config.fps // 2) // config.fps
  return np.clip(slots, 1, config.duration_seconds - 1)


def _sample_track(rng, config, height, walking) -> Optional[np.ndarray]:
  """Feet positions [num_frames, 2] of one actor, or None if off the frame.

  A walking actor paces back and forth along a random segment of 0.3 to 0.8
  heights at 0.3 to 0.6 heights per second; the others stand still.
  """
  half_width, above, below = synthetic_figure.max_box_extent(height)
  low = np.array([half_width + 0.5, above + 0.5])
  high = np.array([config.frame_width - half_width - 0.5,
                   config.frame_height - below - 0.5])
  start = rng.uniform(low, high)
  num_frames = config.num_frames
  if not walking:
    return np.tile(start, (num_frames, 1))
  angle = rng.uniform(0, 2 * np.pi)
  amplitude = rng.uniform(0.3, 0.8) * height
  end = start + amplitude * np.array([math.cos(angle), math.sin(angle)])
  if np.any(end < low) or np.any(end > high):
    return None
  speed = rng.uniform(0.3, 0.6) * height / config.fps   # pixels per frame
  period = 2 * amplitude / speed
  phase = (np.arange(num_frames) / period + rng.random()) % 1.0
  progress = 1.0 - np.abs(2.0 * phase - 1.0)   # triangle wave in [0, 1]
  return start + progress[:, None] * (end - start)


def _tracks_collide(feet_a, height_a, feet_b, height_b, gap) -> bool:
  """True if the two actors' boxes come within `gap` pixels in any frame."""
  half_a, above_a, below_a = synthetic_figure.max_box_extent(height_a)
  half_b, above_b, below_b = synthetic_figure.max_box_extent(height_b)
  x_overlap = np.abs(feet_a[:, 0] - feet_b[:, 0]) < half_a + half_b + gap
  top_a, bottom_a = feet_a[:, 1] - above_a, feet_a[:, 1] + below_a
  top_b, bottom_b = feet_b[:, 1] - above_b, feet_b[:, 1] + below_b
  y_overlap = (top_a < bottom_b + gap) & (top_b < bottom_a + gap)
  return bool(np.any(x_overlap & y_overlap))


def _place_actors(rng, config, num_actors):
  """Heights and non-overlapping feet tracks, or None if they do not fit."""
  heights = (config.actor_height_fraction * config.frame_height *
             rng.uniform(0.9, 1.1, num_actors))
  gap = max(2.0, 0.1 * float(np.mean(heights)))
  # Walking is decided before placement so that crowded frames do not
  # favour standing actors.
  walking = rng.random(num_actors) < config.walking_probability
  tracks = []
  for height, walks in zip(heights, walking):
    for _ in range(_MAX_PLACEMENT_TRIES):
      track = _sample_track(rng, config, height, walks)
      if track is not None and not any(
          _tracks_collide(track, height, other, other_height, gap)
          for other, other_height in zip(tracks, heights)):
        tracks.append(track)
        break
    else:
      return None
  return heights, tracks


def _per_frame(per_slot: np.ndarray, slot_of_frame: np.ndarray) -> np.ndarray:
  return per_slot[slot_of_frame]


def _directions_to_others(actors, index, frame_index) -> np.ndarray:
  """Angles (radians, image coordinates) from an actor's head to the others'."""
  head = synthetic_figure.head_xy(actors[index], frame_index)
  return np.array([
      math.atan2(*(synthetic_figure.head_xy(other, frame_index) - head)[::-1])
      for i, other in enumerate(actors) if i != index])


def _sample_head_direction(rng, actors, index, frame_index) -> float:
  """A head direction at a keyframe: left or right, tilted up to 25 degrees.

  The direction is drawn the same way for every actor, so whether it points
  at someone depends on where the others stand, not on the figure. Draws
  that point almost-but-not-quite at someone are redrawn, to keep the
  look_at label clear-cut.
  """
  angles = _directions_to_others(actors, index, frame_index)
  for _ in range(_MAX_HEAD_DRAWS):
    direction = (math.pi * rng.integers(2) +
                 rng.uniform(-_MAX_HEAD_TILT, _MAX_HEAD_TILT))
    margin = float(np.min(_angle_diff(direction, angles)))
    if not _LOOK_AMBIGUOUS[0] < margin < _LOOK_AMBIGUOUS[1]:
      break
  return direction


def _sample_actors(rng, config) -> List[Actor]:
  """Actors with tracks, appearance, poses and head directions."""
  num_actors = int(rng.integers(config.min_actors, config.max_actors + 1))
  for _ in range(20):
    placed = _place_actors(rng, config, num_actors)
    if placed is not None:
      break
  else:
    raise ValueError(
        f'Cannot place {num_actors} actors of height '
        f'{config.actor_height_fraction} x {config.frame_height} px without '
        f'overlap in a {config.frame_height}x{config.frame_width} frame; '
        'lower max_actors or actor_height_fraction')
  heights, tracks = placed
  num_slots = config.duration_seconds
  slot_of_frame = _slot_of_frame(config, config.num_frames)
  actors = []
  for height, track in zip(heights, tracks):
    arm_angles = rng.uniform(*synthetic_figure.ARM_ANGLE_RANGE,
                             size=(num_slots, 2))
    leg_spread = rng.uniform(*synthetic_figure.LEG_SPREAD_RANGE, size=num_slots)
    actors.append(Actor(
        feet_xy=track, height=float(height),
        clothing_rgb=synthetic_figure.hsv_to_rgb(
            rng.random(), rng.uniform(0.4, 0.9), rng.uniform(0.2, 0.45)),
        skin_rgb=synthetic_figure.hsv_to_rgb(
            rng.uniform(0.03, 0.1), rng.uniform(0.25, 0.5),
            rng.uniform(0.7, 0.95)),
        arm_angles=_per_frame(arm_angles, slot_of_frame),
        leg_spread=_per_frame(leg_spread, slot_of_frame),
        head_direction=np.zeros(config.num_frames)))
  # Head directions per keyframe window, decided at the keyframe.
  directions = np.zeros((num_actors, num_slots))
  for t in config.keyframe_timestamps:
    for i in range(num_actors):
      directions[i, t] = _sample_head_direction(rng, actors, i,
                                                t * config.fps)
  return [dataclasses.replace(a, head_direction=_per_frame(d, slot_of_frame))
          for a, d in zip(actors, directions)]


def looks_at(actors: Sequence[Actor], index: int, frame_index: int,
             max_distance: float = 0.0) -> bool:
  """Whether actor `index`'s head points at another actor's head.

  True if the head direction is within 25 degrees of the direction from this
  actor's head centre to another actor's head centre, and, if max_distance
  is positive, that head lies at most max_distance pixels away.
  """
  return bool(looked_at(actors, index, frame_index, max_distance))


def looked_at(actors: Sequence[Actor], index: int, frame_index: int,
              max_distance: float = 0.0) -> Tuple[int, ...]:
  """The actors whose heads actor `index`'s head points at (see `looks_at`).

  Returns:
    Their indices into `actors`, ascending; empty exactly where `looks_at`
    is False.
  """
  others = [i for i in range(len(actors)) if i != index]
  angles = _directions_to_others(actors, index, frame_index)
  direction = actors[index].head_direction[frame_index]
  pointed = _angle_diff(direction, angles) <= _LOOK_THRESHOLD
  if max_distance > 0:
    head = synthetic_figure.head_xy(actors[index], frame_index)
    pointed &= np.array([
        float(np.hypot(*(synthetic_figure.head_xy(actors[i], frame_index) -
                         head))) <= max_distance for i in others], bool)
  return tuple(i for i, hit in zip(others, pointed) if hit)


def sample_scene(rng: np.random.Generator,
                 config: synthetic_config.SyntheticConfig) -> Scene:
  """Samples one video's actors, balls, ball events and keyframe labels.

  Args:
    rng: the only source of randomness; the same generator state gives the
      same scene.
    config: a validated SyntheticConfig; its layout picks the sampler of
      actors and balls (this module's for 'scatter', synthetic_stage's for
      'stage').

  Returns:
    A Scene. Its keyframes carry every actor's labels over all of
    CLASS_NAMES (filtering to config.classes happens when writing).

  Raises:
    ValueError: if the actors cannot be placed in the frame.
  """
  if config.layout == 'stage':
    actors = synthetic_stage.sample_actors(rng, config)
    balls, events, ball_labels = synthetic_stage.sample_balls(rng, config,
                                                              actors)
  else:
    actors = _sample_actors(rng, config)
    balls, events, ball_labels = synthetic_balls.sample_balls(rng, config,
                                                              actors)
  keyframes = []
  for t in config.keyframe_timestamps:
    frame_index = t * config.fps
    labels = []
    for i in range(len(actors)):
      names = set(ball_labels.get((t, i), ()))
      if not names & {'throw', 'catch', 'hold'}:
        names.add('idle')
      if looks_at(actors, i, frame_index, config.look_range_px):
        names.add('look_at')
      labels.append(tuple(n for n in synthetic_config.CLASS_NAMES
                          if n in names))
    keyframes.append(Keyframe(t, frame_index, tuple(labels)))
  return Scene(
      height=config.frame_height, width=config.frame_width, fps=config.fps,
      num_frames=config.num_frames,
      background_seed=int(rng.integers(2**31)),
      actors=tuple(actors), balls=tuple(balls),
      events=tuple(events), keyframes=tuple(keyframes),
      look_range_px=config.look_range_px)
