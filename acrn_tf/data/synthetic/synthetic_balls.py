"""The balls of a synthetic scene: who throws, who catches, who holds.

Play balls pass between actors, fly to and from nobody (the floor, or beyond
the left, right or top edge) and rest in a holder's hands, one event per
ball and keyframe window, centred on the keyframe (see synthetic_scene).
Distractor balls bounce around and never interact. Positions are absolute
pixels (x, y) as in synthetic_figure.
"""

import dataclasses
import math
from typing import Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from acrn_tf.data.synthetic import synthetic_config
from acrn_tf.data.synthetic import synthetic_figure

_BALL_COLOURS = ((235, 40, 40), (250, 215, 30), (40, 200, 250),
                 (250, 125, 20), (60, 225, 60), (240, 60, 220),
                 (250, 250, 250))

_MAX_PLACEMENT_TRIES = 200


@dataclasses.dataclass(frozen=True)
class Ball:
  """One ball's trajectory.

  Attributes:
    center_xy: [num_frames, 2] float (x, y) absolute pixels; may lie outside
      the frame (the ball is then not visible).
    radius: pixels.
    rgb: colour.
    holder: [num_frames] int, the index of the actor holding it, -1 if none.
    is_distractor: True for balls that bounce around and never interact.
  """
  center_xy: np.ndarray
  radius: float
  rgb: synthetic_figure.RGB
  holder: np.ndarray
  is_distractor: bool


@dataclasses.dataclass(frozen=True)
class BallEvent:
  """What a play ball does in one keyframe window.

  Attributes:
    kind: 'hold', 'pass' (actor to actor), 'throw_away' (actor to nobody) or
      'incoming' (from nobody to an actor).
    timestamp: the keyframe second.
    ball_index: index into Scene.balls.
    thrower: the actor holding the ball when the window starts (the holder
      for 'hold'), -1 for nobody ('incoming').
    receiver: the actor the ball lands on, -1 for nobody ('hold',
      'throw_away').
    release_frame, arrival_frame: the ball leaves its start point after
      release_frame and reaches its end point at arrival_frame (both equal
      the keyframe's frame for 'hold').
  """
  kind: str
  timestamp: int
  ball_index: int
  thrower: int
  receiver: int
  release_frame: int
  arrival_frame: int


class BallTimeline:
  """Builds one play ball's per-frame holder and position, event by event."""

  def __init__(self, num_frames, chests, holder, position):
    self.centers = np.zeros((num_frames, 2))
    self.holders = np.full(num_frames, -1, np.int32)
    self._chests = chests
    self._filled = 0
    self.holder = holder          # actor index or -1
    self.position = position      # resting point when holder == -1

  def _point(self, frame):
    if self.holder >= 0:
      return self._chests[self.holder][frame]
    return self.position

  def _fill_until(self, stop):
    frames = slice(self._filled, stop)
    self.holders[frames] = self.holder
    if self.holder >= 0:
      self.centers[frames] = self._chests[self.holder][frames]
    else:
      self.centers[frames] = self.position
    self._filled = stop

  def fly(self, release, arrival, receiver, target, max_arc=None):
    """Keeps the state up to `release`, flies, lands at receiver or target.

    The ball rises above the straight line by 0.15 of the distance at mid
    flight, or by `max_arc` pixels if that is less.
    """
    self._fill_until(release + 1)
    start = self._point(release)
    self.holder, self.position = receiver, target
    end = self._point(arrival)
    distance = float(np.hypot(*(end - start)))
    height = 0.15 * distance
    if max_arc is not None:
      height = min(height, max_arc)
    for frame in range(release + 1, arrival):
      s = (frame - release) / (arrival - release)
      arc = height * 4 * s * (1 - s)      # a gentle upward arc
      self.centers[frame] = start + s * (end - start) - np.array([0.0, arc])
    self._filled = arrival

  def fall(self, start, num_frames, ground_y):
    """Drops a ball resting in the air at `start` to `ground_y` (accelerating).

    The ball is at its resting point at frame `start`, at the ground
    num_frames later, and rests there from then on.
    """
    self._fill_until(start + 1)
    top = np.array(self.position, float)
    bottom = np.array([top[0], ground_y])
    for step in range(1, num_frames + 1):
      s = (step / num_frames) ** 2
      self.centers[start + step] = top + s * (bottom - top)
    self.holders[start + 1:start + num_frames + 1] = -1
    self.position = bottom
    self._filled = start + num_frames + 1

  def finish(self):
    self._fill_until(len(self.holders))


def _extent_over_video(actor: synthetic_figure.Actor) -> np.ndarray:
  """[4] [ymin, xmin, ymax, xmax]: a box holding the actor in every frame."""
  half_width, above, below = synthetic_figure.max_box_extent(actor.height)
  low, high = actor.feet_xy.min(axis=0), actor.feet_xy.max(axis=0)
  return np.array([low[1] - above, low[0] - half_width, high[1] + below,
                   high[0] + half_width])


def _free_ground_point(rng, config, actors, radius) -> Optional[np.ndarray]:
  """A point on the ground (in the frame) clear of every actor, or None."""
  extents = np.stack([_extent_over_video(a) for a in actors])
  margin = 2 * radius + 2
  for _ in range(_MAX_PLACEMENT_TRIES):
    x, y = rng.uniform([2 * radius, 0.4 * config.frame_height],
                       [config.frame_width - 2 * radius,
                        config.frame_height - 2 * radius])
    if not np.any((y > extents[:, 0] - margin) & (y < extents[:, 2] + margin) &
                  (x > extents[:, 1] - margin) & (x < extents[:, 3] + margin)):
      return np.array([x, y])
  return None


def _off_frame_point(rng, config, radius) -> np.ndarray:
  """A point just outside the left, right or top edge of the frame."""
  edge = rng.integers(3)
  out = 2 * radius + 2
  if edge == 0:
    return np.array([-out, rng.uniform(0, config.frame_height * 0.8)])
  if edge == 1:
    return np.array([config.frame_width + out,
                     rng.uniform(0, config.frame_height * 0.8)])
  return np.array([rng.uniform(0, config.frame_width), -out])


def _nobody_point(rng, config, actors, radius) -> np.ndarray:
  """Where a ball thrown to nobody lands: off the frame or on free ground."""
  if rng.random() < 0.5:
    point = _free_ground_point(rng, config, actors, radius)
    if point is not None:
      return point
  return _off_frame_point(rng, config, radius)


def ball_colours(rng, num_balls):
  """`num_balls` ball colours, all different while the palette lasts."""
  colour_ids = rng.permutation(len(_BALL_COLOURS))
  return [_BALL_COLOURS[colour_ids[i % len(_BALL_COLOURS)]]
          for i in range(num_balls)]


def _sample_play(rng, config, actors, radius, colours):
  """Play balls, their events per keyframe and the ball labels per actor."""
  num_actors = len(actors)
  num_balls = int(rng.integers(
      1, min(config.max_play_balls, num_actors - 1) + 1))
  chests = [synthetic_figure.chest_xy(a) for a in actors]
  first_holders = rng.permutation(num_actors)[:num_balls]
  timelines = []
  for b in range(num_balls):
    if rng.random() < 0.7:
      timelines.append(BallTimeline(config.num_frames, chests,
                                    int(first_holders[b]), None))
    else:
      timelines.append(BallTimeline(
          config.num_frames, chests, -1,
          _nobody_point(rng, config, actors, radius)))
  events = []
  ball_labels = {}    # (timestamp, actor) -> set of class names
  half = config.flight_half_frames
  for t in config.keyframe_timestamps:
    keyframe = t * config.fps
    release, arrival = keyframe - half, keyframe + half
    busy = set()
    holding = {tl.holder for tl in timelines if tl.holder >= 0}

    def free_receiver():
      free = [i for i in range(num_actors)
              if i not in busy and i not in holding]
      return int(rng.choice(free)) if free else -1

    def label(actor, *names):
      ball_labels.setdefault((t, actor), set()).update(names)

    for b in rng.permutation(num_balls):
      tl = timelines[b]
      u = rng.random()
      if tl.holder >= 0:
        thrower = tl.holder
        busy.add(thrower)
        receiver = free_receiver() if u < config.pass_probability else -1
        if receiver >= 0:
          kind = 'pass'
          label(thrower, 'throw', 'pass')
          label(receiver, 'catch')
          busy.add(receiver)
          holding.add(receiver)
          target = None
        elif u < config.pass_probability + config.throw_away_probability:
          kind = 'throw_away'
          label(thrower, 'throw')
          target = _nobody_point(rng, config, actors, radius)
        else:
          label(thrower, 'hold')
          events.append(BallEvent('hold', t, int(b), thrower, -1, keyframe,
                                  keyframe))
          continue
        tl.fly(release, arrival, receiver, target)
        holding.discard(thrower)
        events.append(BallEvent(kind, t, int(b), thrower, receiver, release,
                                arrival))
      elif u < config.incoming_probability:
        receiver = free_receiver()
        if receiver >= 0:
          tl.fly(release, arrival, receiver, None)
          busy.add(receiver)
          holding.add(receiver)
          label(receiver, 'catch')
          events.append(BallEvent('incoming', t, int(b), -1, receiver,
                                  release, arrival))
  balls = []
  for tl, colour in zip(timelines, colours):
    tl.finish()
    balls.append(Ball(center_xy=tl.centers, radius=radius, rgb=colour,
                      holder=tl.holders, is_distractor=False))
  return balls, events, ball_labels


def sample_distractor(rng, config, radius, colour) -> Ball:
  """A ball bouncing off the frame edges at constant speed."""
  low = np.array([radius, radius])
  high = np.array([config.frame_width, config.frame_height]) - radius
  start = rng.uniform(low, high)
  angle = rng.uniform(0, 2 * np.pi)
  height = config.actor_height_fraction * config.frame_height
  speed = rng.uniform(0.5, 3.0) * height / config.fps
  velocity = speed * np.array([math.cos(angle), math.sin(angle)])
  free = start[None] + np.arange(config.num_frames)[:, None] * velocity
  span = high - low
  folded = (free - low) % (2 * span)               # reflect at the edges
  centers = low + np.where(folded > span, 2 * span - folded, folded)
  return Ball(center_xy=centers, radius=radius, rgb=colour,
              holder=np.full(config.num_frames, -1, np.int32),
              is_distractor=True)


def sample_balls(rng: np.random.Generator,
                 config: synthetic_config.SyntheticConfig,
                 actors: Sequence[synthetic_figure.Actor]
                 ) -> Tuple[List[Ball], List[BallEvent],
                            Dict[Tuple[int, int], Set[str]]]:
  """Samples the play balls with their events, then the distractor balls.

  Args:
    rng: the random source.
    config: a validated SyntheticConfig.
    actors: the scene's actors (their tracks decide where balls go).

  Returns:
    balls: play balls first, then distractors.
    events: every play ball's event per keyframe window, in time order.
    ball_labels: (keyframe second, actor index) -> the ball classes of that
      actor there ('throw', 'pass', 'catch', 'hold'); absent if none.
  """
  radius = config.ball_radius_fraction * config.frame_height
  num_distractors = int(rng.integers(config.min_distractor_balls,
                                     config.max_distractor_balls + 1))
  num_play_max = min(config.max_play_balls, len(actors) - 1)
  colours = ball_colours(rng, num_play_max + num_distractors)
  play_balls, events, ball_labels = _sample_play(
      rng, config, actors, radius, colours[:num_play_max])
  distractors = [sample_distractor(rng, config, radius, colour)
                 for colour in colours[num_play_max:]]
  return play_balls + distractors, events, ball_labels
