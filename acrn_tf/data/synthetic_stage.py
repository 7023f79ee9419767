"""The `stage` layout: actors far apart on one line, relations decide.

In the `scatter` layout (synthetic_scene) actors stand anywhere, and at
96 x 128 one Mixed_4f unit of S3D-G sees more than the frame, so an actor's
own feature-map crop already sees its partners. On the stage every actor
stands still with its feet on one ground line, at least
`min_actor_separation_px` from every other actor and `stage_edge_margin_px`
from the left and right frame edges, both chosen so that nothing another
actor does, and no frame edge, lies in the receptive field of an actor's
crop (docs/synthetic_dataset.md gives the margins). On top of that:

- A pass never comes alone. At a keyframe window where two actors hold a
  ball, one passes to a free actor next to it (no actor in between, so no
  flight crosses a third actor) and, at the same time, the other throws its
  ball outwards, to where nobody stands: the flight time and the arc are the
  same, and the distance and end height are drawn like a pass's (the gap
  between two neighbours of a freshly drawn stage, the chest of a freshly
  drawn actor). The thrown-away ball ends its flight in free air, then
  falls to the ground; later a
  free actor catches it back ('incoming'). So near a thrower a pass and a
  throw to nobody look the same; only the landing place, at least the
  separation away, tells them apart, and a summary of the whole clip sees
  one pass and one throw to nobody without saying who did which.
- Every actor faces left or right, head mark and one arm pointing that way
  (the arm raised horizontally: a stroke as long as the arm). It looks at
  someone when somebody stands on that side. An actor with somebody on one
  side only faces away from them with `outward_facing_probability`, which
  balances look_at and puts, at most keyframes, an actor facing nobody next
  to one facing somebody.

Pure numpy from a `np.random.Generator`, as synthetic_scene.
"""

import math
from typing import Dict, List, Sequence, Set, Tuple

import numpy as np

from acrn_tf.data import synthetic_balls
from acrn_tf.data import synthetic_config
from acrn_tf.data import synthetic_figure

# Feet on one ground line at this fraction of the frame height, each actor
# shifted by up to _GROUND_JITTER_PX up or down.
_GROUND_LINE = 0.94
_GROUND_JITTER_PX = 1.5
_POINTING_ARM_ANGLE = math.pi / 2
_MAX_LANDING_DRAWS = 100


def _slot_of_frame(config, num_frames: int) -> np.ndarray:
  """[num_frames] int: the keyframe second whose window holds each frame."""
  slots = (np.arange(num_frames) + config.fps // 2) // config.fps
  return np.clip(slots, 1, config.duration_seconds - 1)


def sample_feet_x(rng: np.random.Generator,
                  config: synthetic_config.SyntheticConfig,
                  num_actors: int) -> np.ndarray:
  """Feet x of `num_actors` actors on the stage, sorted left to right.

  Uniform over the positions that keep every actor at least
  min_actor_separation_px from the others and stage_edge_margin_px from
  the frame edges (sorted uniform draws spread by the separation), so the
  gaps between neighbours all have the same distribution.

  Returns:
    [num_actors] float64, increasing, absolute pixels.
  """
  low = config.stage_edge_margin_px
  separation = config.min_actor_separation_px
  slack = config.frame_width - 2 * low - (num_actors - 1) * separation
  extras = np.sort(rng.uniform(0.0, slack, num_actors))
  return low + extras + separation * np.arange(num_actors)


def _sides(feet_x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
  """Per actor: whether somebody stands to its left, to its right."""
  left = np.array([np.any(feet_x < x) for x in feet_x])
  right = np.array([np.any(feet_x > x) for x in feet_x])
  return left, right


def _sample_facing(rng, config, feet_x) -> np.ndarray:
  """[num_actors] bool: True where the actor faces right."""
  left, right = _sides(feet_x)
  facing = np.zeros(len(feet_x), bool)
  for i in range(len(feet_x)):
    if left[i] == right[i]:
      facing[i] = bool(rng.integers(2))
    else:
      outward = rng.random() < config.outward_facing_probability
      facing[i] = outward == bool(left[i])   # outward from a left neighbour
  return facing


def sample_actors(rng: np.random.Generator,
                  config: synthetic_config.SyntheticConfig
                  ) -> List[synthetic_figure.Actor]:
  """Actors standing still on the stage, facing and pointing left or right.

  The actors' order is shuffled, so an actor's index (the csv's person id)
  says nothing about where it stands.
  """
  num_actors = int(rng.integers(config.min_actors, config.max_actors + 1))
  heights = (config.actor_height_fraction * config.frame_height *
             rng.uniform(0.9, 1.1, num_actors))
  feet_x = sample_feet_x(rng, config, num_actors)[rng.permutation(num_actors)]
  feet_y = config.frame_height * _GROUND_LINE + rng.uniform(
      -_GROUND_JITTER_PX, _GROUND_JITTER_PX, num_actors)
  num_slots = config.duration_seconds
  facing_right = np.zeros((num_slots, num_actors), bool)
  for t in config.keyframe_timestamps:
    facing_right[t] = _sample_facing(rng, config, feet_x)
  slot_of_frame = _slot_of_frame(config, config.num_frames)
  actors = []
  for i in range(num_actors):
    arm_angles = rng.uniform(*synthetic_figure.ARM_ANGLE_RANGE,
                             size=(num_slots, 2))
    # Arms are (left, right): the arm on the facing side points sideways.
    arm_angles[np.arange(num_slots), facing_right[:, i].astype(int)] = (
        _POINTING_ARM_ANGLE)
    leg_spread = rng.uniform(*synthetic_figure.LEG_SPREAD_RANGE,
                             size=num_slots)
    actors.append(synthetic_figure.Actor(
        feet_xy=np.tile([feet_x[i], feet_y[i]], (config.num_frames, 1)),
        height=float(heights[i]),
        clothing_rgb=synthetic_figure.hsv_to_rgb(
            rng.random(), rng.uniform(0.4, 0.9), rng.uniform(0.2, 0.45)),
        skin_rgb=synthetic_figure.hsv_to_rgb(
            rng.uniform(0.03, 0.1), rng.uniform(0.25, 0.5),
            rng.uniform(0.7, 0.95)),
        arm_angles=arm_angles[slot_of_frame],
        leg_spread=leg_spread[slot_of_frame],
        head_direction=np.where(facing_right[:, i], 0.0,
                                math.pi)[slot_of_frame]))
  return actors


def _pass_roles(rng, feet_x, holders, free) -> Tuple[int, int, int, int]:
  """(passer, receiver, thrower to nobody, its direction) or None.

  The passer passes to a free actor with nobody in between; the other
  thrower stands at an end of the line and throws outwards (direction -1
  left, +1 right), where nobody stands. Drawn uniformly among the choices.
  """
  left, right = _sides(feet_x)
  choices = []
  for passer in holders:
    for receiver in free:
      low, high = sorted((feet_x[passer], feet_x[receiver]))
      if np.any((feet_x > low) & (feet_x < high)):
        continue     # the flight would cross a third actor
      for thrower in holders:
        if thrower == passer:
          continue
        for direction, somebody in ((-1, left), (1, right)):
          if not somebody[thrower]:
            choices.append((passer, receiver, thrower, direction))
  if not choices:
    return None
  return choices[int(rng.integers(len(choices)))]


def throw_away_distance(rng: np.random.Generator,
                        config: synthetic_config.SyntheticConfig,
                        num_actors: int) -> float:
  """A throw to nobody's length, drawn as a pass's: a neighbours' gap.

  A pass goes to a neighbour, and the neighbours' gaps of a stage all have
  the same distribution (see sample_feet_x), so the gap between two random
  neighbours of a freshly drawn stage is distributed as a pass's length.
  """
  feet_x = sample_feet_x(rng, config, num_actors)
  gap = int(rng.integers(num_actors - 1))
  return float(feet_x[gap + 1] - feet_x[gap])


def _landing_x(rng, config, x, direction, num_actors, radius) -> float:
  """Where a throw to nobody from `x` towards `direction` ends, in frame."""
  for _ in range(_MAX_LANDING_DRAWS):
    landing = x + direction * throw_away_distance(rng, config, num_actors)
    if 2 * radius <= landing <= config.frame_width - 2 * radius:
      return landing
  # The shortest pass always fits: validate() keeps the edge margin at
  # least the separation plus a ball.
  return x + direction * config.min_actor_separation_px


def _landing_y(rng, config) -> float:
  """A throw to nobody's end height: a freshly drawn actor's chest.

  A pass ends on the catcher's chest; drawing the catcher's height and
  ground line the way sample_actors does gives a throw to nobody the same
  spread of end heights.
  """
  height = (config.actor_height_fraction * config.frame_height *
            rng.uniform(0.9, 1.1))
  feet_y = config.frame_height * _GROUND_LINE + rng.uniform(
      -_GROUND_JITTER_PX, _GROUND_JITTER_PX)
  return float(synthetic_figure.chest_xy(synthetic_figure.Actor(
      feet_xy=np.array([[0.0, feet_y]]), height=float(height),
      clothing_rgb=(0, 0, 0), skin_rgb=(0, 0, 0), arm_angles=np.zeros((1, 2)),
      leg_spread=np.zeros(1), head_direction=np.zeros(1)))[0, 1])


def _fall_frames(config) -> int:
  """Frames a thrown-away ball takes to fall, before the next release."""
  return max(1, min(3, config.fps - 2 * config.flight_half_frames - 1))


def sample_balls(rng: np.random.Generator,
                 config: synthetic_config.SyntheticConfig,
                 actors: Sequence[synthetic_figure.Actor]
                 ) -> Tuple[List[synthetic_balls.Ball],
                            List[synthetic_balls.BallEvent],
                            Dict[Tuple[int, int], Set[str]]]:
  """The stage's play balls: paired passes and throws to nobody, returns.

  Args:
    rng: the random source.
    config: a validated SyntheticConfig with layout 'stage'.
    actors: the stage's actors (from sample_actors).

  Returns:
    As synthetic_balls.sample_balls: balls (play balls, then distractors),
    events in time order, and (keyframe second, actor) -> ball classes.
  """
  num_actors = len(actors)
  radius = config.ball_radius_fraction * config.frame_height
  num_balls = min(config.max_play_balls, num_actors - 1)
  num_distractors = int(rng.integers(config.min_distractor_balls,
                                     config.max_distractor_balls + 1))
  colours = synthetic_balls.ball_colours(rng, num_balls + num_distractors)
  feet_x = np.array([a.feet_xy[0, 0] for a in actors])
  chests = [synthetic_figure.chest_xy(a) for a in actors]
  timelines = [synthetic_balls.BallTimeline(config.num_frames, chests,
                                            int(holder), None)
               for holder in rng.permutation(num_actors)[:num_balls]]
  half = config.flight_half_frames
  events, ball_labels = [], {}
  for t in config.keyframe_timestamps:
    keyframe = t * config.fps
    release, arrival = keyframe - half, keyframe + half

    def label(actor, *names):
      ball_labels.setdefault((t, actor), set()).update(names)

    holders = [tl.holder for tl in timelines if tl.holder >= 0]
    busy = set()
    roles = None
    if len(holders) >= 2 and rng.random() < config.pass_probability:
      free = [i for i in range(num_actors) if i not in holders]
      roles = _pass_roles(rng, feet_x, holders, free)
    if roles is not None:
      passer, receiver, thrower, direction = roles
      ball_of = {tl.holder: b for b, tl in enumerate(timelines)
                 if tl.holder >= 0}
      timelines[ball_of[passer]].fly(release, arrival, receiver, None)
      events.append(synthetic_balls.BallEvent(
          'pass', t, ball_of[passer], passer, receiver, release, arrival))
      label(passer, 'throw', 'pass')
      label(receiver, 'catch')
      landing = np.array([
          _landing_x(rng, config, feet_x[thrower], direction, num_actors,
                     radius), _landing_y(rng, config)])
      away = timelines[ball_of[thrower]]
      away.fly(release, arrival, -1, landing)
      away.fall(arrival, _fall_frames(config),
                actors[thrower].feet_xy[arrival][1] - radius)
      events.append(synthetic_balls.BallEvent(
          'throw_away', t, ball_of[thrower], thrower, -1, release, arrival))
      label(thrower, 'throw')
      busy.update((passer, receiver, thrower))
    for b in range(num_balls):
      tl = timelines[b]
      if tl.holder >= 0 and tl.holder not in busy:
        label(tl.holder, 'hold')
        events.append(synthetic_balls.BallEvent(
            'hold', t, b, tl.holder, -1, keyframe, keyframe))
        busy.add(tl.holder)
    if roles is None:
      # Balls on the floor come back to free actors.
      for b in rng.permutation(num_balls):
        tl = timelines[b]
        holding = {other.holder for other in timelines}
        free = [i for i in range(num_actors)
                if i not in busy and i not in holding]
        if tl.holder < 0 and free and rng.random() < (
            config.incoming_probability):
          receiver = int(rng.choice(free))
          # A long return flight arcs no higher than the frame's top.
          start_y = min(tl.position[1], chests[receiver][arrival][1])
          tl.fly(release, arrival, receiver, None,
                 max_arc=start_y - 2 * radius)
          events.append(synthetic_balls.BallEvent(
              'incoming', t, int(b), -1, receiver, release, arrival))
          label(receiver, 'catch')
          busy.add(receiver)
  events.sort(key=lambda e: (e.timestamp, e.ball_index))
  balls = []
  for tl, colour in zip(timelines, colours):
    tl.finish()
    balls.append(synthetic_balls.Ball(center_xy=tl.centers, radius=radius,
                                      rgb=colour, holder=tl.holders,
                                      is_distractor=False))
  balls += [synthetic_balls.sample_distractor(rng, config, radius, colour)
            for colour in colours[num_balls:]]
  return balls, events, ball_labels
