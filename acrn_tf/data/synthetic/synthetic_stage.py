"""The `stage` layout: actors far apart on one line, relations decide.

In the `scatter` layout (synthetic_scene) actors stand anywhere, and at
96 x 128 one Mixed_4f unit of S3D-G sees more than the frame, so an actor's
own feature-map crop already sees its partners. The stage is a row of
places `min_actor_separation_px` apart, at least `stage_edge_margin_px`
from the left and right frame edges, the row shifted at random within the
frame; the actors stand still on some of the places (feet on one ground
line), the other places stay empty. Both distances are chosen so that
nothing another actor does, and no frame edge, lies in the receptive field
of an actor's crop (docs/synthetic_dataset.md gives the margins), and the
empty places keep an actor's place from telling who stands next to it:

- A pass never comes alone. At a keyframe window where two actors hold a
  ball, one passes to a free actor on a neighbouring place and, at the
  same time, the other throws its ball to a neighbouring place of the row
  where nobody stands: the same flight time, arc and distance (one place),
  and an end height drawn as a chest's. The thrown-away ball ends its flight in free air
  where an actor could have stood, then falls to the ground; later a free
  actor catches it back ('incoming'). So near a thrower a pass and a throw
  to nobody look the same; only the landing place, the separation away,
  tells them apart, and a summary of the whole clip sees one pass and one
  throw to nobody without saying who did which.
- Every actor faces left or right, head mark and one arm pointing that way
  (the arm raised horizontally: a stroke as long as the arm). It looks at
  someone when an actor stands on that side within `look_range_px` (on the
  neighbouring place). Facings are drawn so that the odds of look_at stay
  near even at every place (see _sample_facing).

Pure numpy from a `np.random.Generator`, as synthetic_scene.
"""

import math
from typing import Dict, List, Sequence, Set, Tuple

import numpy as np

from acrn_tf.data.synthetic import synthetic_balls
from acrn_tf.data.synthetic import synthetic_config
from acrn_tf.data.synthetic import synthetic_figure

# Feet on one ground line at this fraction of the frame height, each actor
# shifted by up to _GROUND_JITTER_PX up or down.
_GROUND_LINE = 0.94
_GROUND_JITTER_PX = 1.5
_POINTING_ARM_ANGLE = math.pi / 2
# An actor on an end place of the row with an inner neighbour faces outwards
# (where nobody ever stands) with this probability: even odds of look_at
# when it faces inwards (see _sample_facing).
_END_OUTWARD_PROBABILITY = 0.5


def _slot_of_frame(config, num_frames: int) -> np.ndarray:
  """[num_frames] int: the keyframe second whose window holds each frame."""
  slots = (np.arange(num_frames) + config.fps // 2) // config.fps
  return np.clip(slots, 1, config.duration_seconds - 1)


def place_xs(rng: np.random.Generator,
             config: synthetic_config.SyntheticConfig) -> np.ndarray:
  """The stage's places: as many as fit, min_actor_separation_px apart.

  The row keeps stage_edge_margin_px from both frame edges and is shifted
  at random by the room left over.

  Returns:
    [num_places] float64, increasing, absolute pixels.
  """
  low = config.stage_edge_margin_px
  separation = config.min_actor_separation_px
  span = config.frame_width - 2 * low
  num_places = int(span // separation) + 1
  shift = rng.uniform(0.0, span - (num_places - 1) * separation)
  return low + shift + separation * np.arange(num_places)


def _neighbours(feet_x: np.ndarray, reach: float
                ) -> Tuple[np.ndarray, np.ndarray]:
  """Per actor: whether somebody stands within `reach` px left, right."""
  gaps = feet_x[None, :] - feet_x[:, None]      # [i, j]: x_j - x_i
  left = np.any((gaps < 0) & (gaps >= -reach), axis=1)
  right = np.any((gaps > 0) & (gaps <= reach), axis=1)
  return left, right


def _look_reach(config) -> float:
  return config.look_range_px if config.look_range_px > 0 else np.inf


def _sample_facing(rng, config, feet_x, row_end) -> np.ndarray:
  """[num_actors] bool: True where the actor faces right.

  Args:
    rng: the random source.
    config: the stage's configuration.
    feet_x: [num_actors] the actors' feet x.
    row_end: [num_actors] int, -1 for an actor on the row's first place, +1
      on its last, 0 elsewhere.

  Whether somebody stands on the faced side is decided outside the actor's
  crop, but its place is not (a model given the box sees it), so facings
  are drawn to leave look_at near even odds at every place: inside the row
  an actor with a neighbour on one side only faces the empty side with
  outward_facing_probability (0.75 gives even odds); at an end of the row,
  where nobody ever stands outwards, an actor faces outwards only when it
  has an inner neighbour, with _END_OUTWARD_PROBABILITY.
  """
  left, right = _neighbours(feet_x, _look_reach(config))
  facing = np.zeros(len(feet_x), bool)
  for i in range(len(feet_x)):
    if row_end[i]:
      inner = right[i] if row_end[i] < 0 else left[i]
      outward = inner and rng.random() < _END_OUTWARD_PROBABILITY
      facing[i] = outward == (row_end[i] > 0)
    elif left[i] == right[i]:
      facing[i] = bool(rng.integers(2))
    else:
      away = rng.random() < config.outward_facing_probability
      facing[i] = away == bool(left[i])   # away from a left neighbour
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
  places = place_xs(rng, config)
  if num_actors > len(places):
    raise ValueError(f'Cannot place {num_actors} actors on a stage of '
                     f'{len(places)} places; lower max_actors or widen the '
                     'frame')
  taken = np.sort(rng.choice(len(places), num_actors, replace=False))
  order = rng.permutation(num_actors)
  feet_x = places[taken][order]
  row_end = np.select([taken == 0, taken == len(places) - 1], [-1, 1],
                      0)[order]
  feet_y = config.frame_height * _GROUND_LINE + rng.uniform(
      -_GROUND_JITTER_PX, _GROUND_JITTER_PX, num_actors)
  num_slots = config.duration_seconds
  facing_right = np.zeros((num_slots, num_actors), bool)
  for t in config.keyframe_timestamps:
    facing_right[t] = _sample_facing(rng, config, feet_x, row_end)
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


def _pass_choices(config, feet_x, holders, free
                  ) -> List[Tuple[int, int, int, float]]:
  """Every (passer, receiver, thrower to nobody, its landing x) possible.

  The passer passes to a free actor on a neighbouring place; the other
  thrower throws to a neighbouring place of the row where nobody stands.
  """
  separation = config.min_actor_separation_px
  low = config.stage_edge_margin_px - 1e-6
  high = config.frame_width - config.stage_edge_margin_px + 1e-6
  choices = []
  for passer in holders:
    for receiver in free:
      if abs(feet_x[passer] - feet_x[receiver]) > 1.5 * separation:
        continue    # not a neighbour
      for thrower in holders:
        if thrower == passer:
          continue
        for direction in (-1, 1):
          landing = feet_x[thrower] + direction * separation
          if (low <= landing <= high and
              np.all(np.abs(feet_x - landing) > 0.5 * separation)):
            choices.append((passer, receiver, thrower, float(landing)))
  return choices


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
      choices = _pass_choices(config, feet_x, holders, free)
      if choices:
        roles = choices[int(rng.integers(len(choices)))]
    if roles is not None:
      passer, receiver, thrower, landing_x = roles
      ball_of = {tl.holder: b for b, tl in enumerate(timelines)
                 if tl.holder >= 0}
      timelines[ball_of[passer]].fly(release, arrival, receiver, None)
      events.append(synthetic_balls.BallEvent(
          'pass', t, ball_of[passer], passer, receiver, release, arrival))
      label(passer, 'throw', 'pass')
      label(receiver, 'catch')
      landing = np.array([landing_x, _landing_y(rng, config)])
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
          # Preferably to an actor who can then pass or throw to nobody.
          ready = [i for i in free if _pass_choices(
              config, feet_x, sorted(holding - {-1} | {i}),
              [j for j in range(num_actors)
               if j not in holding and j != i])]
          receiver = int(rng.choice(ready or free))
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
