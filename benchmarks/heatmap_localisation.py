"""Does ACRN's relation heat map point at the partner? Paper 4.4 as a number.

For each correctly detected actor with a relation-decided label
(`synthetic_config.RELATION_CLASSES`) on the test keyframes, this module
asks whether the maximum of the actor's relation heat map for that label
lies in its partner's box: for `pass` the actor the ball was passed to, for
`look_at` an actor it looks at. "Correctly detected": a detection with IoU
>= 0.5 to the groundtruth actor and a score >= 0.5 for the label (the
highest-scoring such detection is the actor's).

The heat map is the class activation map of `acrn_tf.relation.heatmaps`
(the classifier's f_RN rows applied to the relation map before pooling), as
`postprocess` returns it per detection; that output holds only each
detection's top class, so the model's CAMs are computed here for every
class and each detection's proposal is found by its class probabilities
(postprocess gathers them from that proposal, so they are equal).

Partners come from the generator itself: the dataset is deterministic, so
each test video's scene is sampled again from its seed
(`synthetic.sample_video_scene`); its ball events name thrower and receiver
of every pass and `synthetic_scene.looked_at` the actors an actor looks at.

The relation map has the stride of the scene map (16 px for Mixed_4f;
cells 64 px wide at the stage config's scale 0.25), so one cell is wider
than a thin actor's box: the maximum "lies in" the box when the frame
region of the cell holding it overlaps the box (`heatmap_peaks`). Beside
the figure stands its chance level: the share of the map's cells that
overlap the partner's box, the figure a maximum in a cell drawn at random
would reach. And where the maximum lies when it misses:
`heatmap_peaks.placement` projects the peak cell's centre onto the line
from the actor's box centre to its partner's (0 on the actor, 1 on the
partner) and names the stretch.
"""

import collections
import json
import math
import os
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from acrn_tf.builders import config_util
from acrn_tf.core import checkpoint_paths
from acrn_tf.core import standard_fields
from acrn_tf.data import label_map_util
from acrn_tf.data.input import augmentation
from acrn_tf.data.synthetic import synthetic
from acrn_tf.data.synthetic import synthetic_config
from acrn_tf.data.synthetic import synthetic_scene
from acrn_tf.evaluation import average_precision
from acrn_tf.meta_architectures import video_faster_rcnn
from acrn_tf.relation import heatmaps
from benchmarks import accuracy_heatmaps
from benchmarks import heatmap_peaks

_det = standard_fields.DetectionResultFields
_pred = standard_fields.PredictionFields

MIN_IOU = 0.5
MIN_SCORE = 0.5
# A run's localisation figure, kept beside its result.json.
LOCALISATION_JSON = 'localisation.json'
# One detected actor label: its label, whether the maximum lies in a
# partner's box, the chance level of that and the maximum's placement
# (`heatmap_peaks.placement`).
Found = collections.namedtuple('Found', 'label inside chance placement')


def partners(scene: synthetic_scene.Scene, timestamp: int, actor_index: int,
             label: str) -> Tuple[int, ...]:
  """The actors that decide `label` of an actor at a keyframe.

  Args:
    scene: the video's scene.
    timestamp: the keyframe second.
    actor_index: the actor, an index into scene.actors.
    label: 'pass' (the receivers of the actor's passes in that keyframe
      window) or 'look_at' (the actors it looks at).

  Returns:
    Actor indices, ascending; empty when the actor does not have the label.

  Raises:
    ValueError: for another label.
  """
  if label == 'pass':
    return tuple(sorted({e.receiver for e in scene.events
                         if e.kind == 'pass' and e.timestamp == timestamp
                         and e.thrower == actor_index}))
  if label == 'look_at':
    return synthetic_scene.looked_at(scene.actors, actor_index,
                                     timestamp * scene.fps,
                                     scene.look_range_px)
  raise ValueError(f'partners: no partner is defined for label {label!r}; '
                   "expected 'pass' or 'look_at'")


def groundtruth(scene: synthetic_scene.Scene, timestamp: int,
                labels: Sequence[str] = synthetic_config.RELATION_CLASSES
                ) -> List[Tuple[np.ndarray, Dict[str, np.ndarray]]]:
  """Each actor's keyframe box and, per relation label it has, partner boxes.

  Returns:
    Per actor with at least one of `labels`: (box [4], {label: partner
    boxes [k, 4]}), normalised [ymin, xmin, ymax, xmax].
  """
  keyframe = next(k for k in scene.keyframes if k.timestamp == timestamp)
  actors = []
  for index, names in enumerate(keyframe.labels):
    found = {}
    for label in labels:
      if label in names:
        found[label] = np.array(
            [synthetic_scene.actor_box(scene, p, keyframe.frame_index)
             for p in partners(scene, timestamp, index, label)]).reshape(-1, 4)
    if found:
      actors.append((synthetic_scene.actor_box(scene, index,
                                               keyframe.frame_index), found))
  return actors


def check_keyframe(boxes: np.ndarray, scores: np.ndarray,
                   class_heatmaps: np.ndarray, columns: Mapping[str, int],
                   actors: Sequence[Tuple[np.ndarray, Dict[str, np.ndarray]]]
                   ) -> List[Found]:
  """Per detected actor label: whether its heat map's maximum is a partner's.

  Args:
    boxes: [n, 4] detection boxes, normalised.
    scores: [n, C] per-class scores.
    class_heatmaps: [n, h, w, C] each detection's heat map per class.
    columns: label -> its column in scores and class_heatmaps.
    actors: `groundtruth` of the keyframe.

  Returns:
    A `Found` per (actor, label) that a detection finds (IoU >= MIN_IOU,
    score for the label >= MIN_SCORE; the highest-scoring one is used);
    labels without any partner box are left out. inside: the maximum's
    cell overlaps a partner box; chance: `heatmap_peaks.chance_in_boxes` of
    the partner boxes; placement: `heatmap_peaks.placement` towards the
    first partner.
  """
  boxes = np.asarray(boxes).reshape(-1, 4)
  found = []
  for box, partner_boxes in actors:
    ious = average_precision.iou(box[None], boxes)[0]
    for label, partner in partner_boxes.items():
      column = columns[label]
      candidates = np.flatnonzero((ious >= MIN_IOU) &
                                  (scores[:, column] >= MIN_SCORE))
      if not len(candidates) or not len(partner):
        continue
      best = candidates[np.argmax(scores[candidates, column])]
      heatmap = class_heatmaps[best, ..., column]
      found.append(Found(
          label, heatmap_peaks.peak_in_boxes(heatmap, partner),
          heatmap_peaks.chance_in_boxes(heatmap.shape, partner),
          heatmap_peaks.placement(heatmap, box, partner[0])))
  return found


class ClassHeatmapDetector:
  """A trained run's model: detections with a heat map for every class."""

  def __init__(self, pipeline_config_path: str, checkpoint: str):
    """Builds the model of the config and restores the checkpoint.

    Raises:
      ValueError: the model has no relation heat maps (the Base-Model).
      checkpoint_paths.CheckpointNotFoundError: no checkpoint there.
    """
    # pylint: disable-next=g-import-not-at-top
    from acrn_tf.builders import model_builder
    config = config_util.read_pipeline_config(pipeline_config_path)
    reader = config_util.eval_input_reader(config, pipeline_config_path,
                                           fall_back_to_train=True)
    self.frames_per_clip = reader.frames_per_clip
    self.frame_stride = reader.frame_stride
    self.image_size = (reader.image_height, reader.image_width)
    self.label_ids = {name: label_id for label_id, name in
                      label_map_util.read_label_map(
                          reader.label_map_path).items()}
    model = model_builder.build_with_variables(config, reader,
                                               is_training=False)
    if not getattr(model, 'has_heatmaps', False):
      raise ValueError(f'{pipeline_config_path}: the model has no relation '
                       'heat maps (no relation map to localise)')
    tf.train.Checkpoint(model=model).read(checkpoint_paths.resolve(
        checkpoint, 'checkpoint')).expect_partial()
    self._model = model
    # SINGLE_LABEL logits have a background column first.
    self._logit_offset = (
        1 if model.label_mode == video_faster_rcnn.SINGLE_LABEL else 0)
    clip = [1, self.frames_per_clip, None, None, 3]
    self._run = tf.function(self._detect, autograph=False,
                            input_signature=[tf.TensorSpec(clip, tf.uint8)])

  def _detect(self, frames):
    model = self._model
    resized, _ = augmentation.resize_clip(frames[0],
                                          tf.constant(self.image_size))
    resized = tf.ensure_shape(resized, [self.frames_per_clip,
                                        *self.image_size, 3])
    inputs = {standard_fields.InputDataFields.frames: tf.cast(
        tf.round(tf.clip_by_value(resized, 0.0, 255.0)), tf.uint8)[None]}
    predictions = model.predict(model.preprocess(inputs), training=False)
    detections = model.postprocess(predictions)
    probabilities = model.class_probabilities(predictions[_pred.class_logits])
    cams = heatmaps.class_activation_maps(predictions[_pred.relation_maps],
                                          model.relation_kernel())
    return (detections[_det.detection_boxes][0],
            detections[_det.detection_multiclass_scores][0],
            tf.cast(detections[_det.num_detections][0], tf.int32),
            probabilities[0], cams[0])

  def detect(self, frames: np.ndarray
             ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes [n, 4], scores [n, C] and heat maps [n, h, w, C] of a clip.

    Args:
      frames: uint8 [frames_per_clip, H, W, 3] RGB, any H and W.
    """
    boxes, scores, num, probabilities, cams = (
        t.numpy() for t in self._run(tf.constant(frames[None])))
    boxes, scores = boxes[:num], scores[:num]
    # Each detection's proposal: the one whose probabilities it carries.
    distance = np.abs(scores[:, None, :] - probabilities[None]).max(axis=-1)
    proposals = np.argmin(distance, axis=1)
    if len(proposals) and distance.min(axis=1).max() > 1e-6:
      raise RuntimeError(
          'a detection\'s class scores match no proposal\'s (off by '
          f'{distance.min(axis=1).max():.3g}): postprocess no longer gathers '
          'each detection\'s scores from its proposal')
    maps = cams[proposals][..., self._logit_offset:]
    return boxes, scores, maps


def evaluate_run(run_dir: str, dataset: synthetic_config.SyntheticConfig,
                 videos_dir: str, split: str = 'test',
                 labels: Sequence[str] = synthetic_config.RELATION_CLASSES
                 ) -> Dict:
  """The localisation figure of one trained ACRN run on a split's videos.

  Args:
    run_dir: the run's directory (pipeline.config and checkpoints).
    dataset: the synthetic dataset's config the videos were generated with.
    videos_dir: where the videos are.
    split: the split whose videos and scenes are used.
    labels: the relation-decided labels.

  Returns:
    {'num_actors', 'num_inside', 'fraction' and 'chance' (the mean
    `chance_in_boxes`; both None when no actor is found), 'placements'
    (name in heatmap_peaks.PLACEMENTS -> actors), 'per_class': {label:
    the same five}}.
  """
  detector = ClassHeatmapDetector(
      os.path.join(run_dir, config_util.PIPELINE_CONFIG_NAME), run_dir)
  columns = {}
  ids = sorted(detector.label_ids.values())
  for label in labels:
    if label in detector.label_ids:
      columns[label] = ids.index(detector.label_ids[label])
  counts = {label: [0, 0, 0.0, collections.Counter()] for label in columns}
  for index in range(dataset.num_videos(split)):
    scene = synthetic.sample_video_scene(dataset, split, index)
    video = os.path.join(videos_dir, synthetic.video_id(split, index) +
                         dataset.video_extension)
    for keyframe in scene.keyframes:
      actors = groundtruth(scene, keyframe.timestamp, tuple(columns))
      if not actors:
        continue
      clip, _ = accuracy_heatmaps.read_clip(
          video, keyframe.timestamp, detector.frames_per_clip,
          detector.frame_stride)
      boxes, scores, maps = detector.detect(clip)
      for found in check_keyframe(boxes, scores, maps, columns, actors):
        count = counts[found.label]
        count[0] += 1
        count[1] += int(found.inside)
        count[2] += found.chance
        count[3][found.placement] += 1
  total = [sum((c[i] for c in counts.values()), start) for i, start in
           enumerate((0, 0, 0.0, collections.Counter()))]
  return dict(_figure(*total),
              per_class={label: _figure(*c) for label, c in counts.items()})


def _figure(num_actors: int, num_inside: int, chance_sum: float,
            placements: Mapping[str, int]) -> Dict:
  return {'num_actors': num_actors, 'num_inside': num_inside,
          'fraction': num_inside / num_actors if num_actors else None,
          'chance': chance_sum / num_actors if num_actors else None,
          'placements': {name: placements.get(name, 0)
                         for name, _ in heatmap_peaks.PLACEMENTS}}


def load_or_evaluate(run_dir: str, dataset: synthetic_config.SyntheticConfig,
                     videos_dir: str) -> Dict:
  """`evaluate_run` of the test split, kept in run_dir/localisation.json.

  A kept figure without a chance level or placements (written before they
  were computed) is evaluated again.
  """
  path = os.path.join(run_dir, LOCALISATION_JSON)
  if os.path.exists(path):
    with open(path, encoding='utf-8') as f:
      figure = json.load(f)
    if 'chance' in figure and 'placements' in figure:
      return figure
  figure = evaluate_run(run_dir, dataset, videos_dir)
  temporary = f'{path}.tmp-{os.getpid()}'
  with open(temporary, 'w', encoding='utf-8') as f:
    json.dump(figure, f, indent=2)
    f.write('\n')
  os.replace(temporary, path)
  return figure


def localise_runs(work_dir: str, results: Sequence[Mapping],
                  dataset: synthetic_config.SyntheticConfig,
                  frames_per_clip: int,
                  progress: Callable[[str], None] = lambda line: None
                  ) -> Optional[Dict]:
  """The figure of the accuracy benchmark's ACRN seed runs, over seeds.

  Args:
    work_dir: the benchmark's work directory (runs/, data/videos/).
    results: `accuracy.run_benchmark` results; the ACRN runs at
      frames_per_clip on the config's scene maps (table 1a's) are used.
    dataset: the synthetic dataset's config.
    frames_per_clip: table 1a's clip length.
    progress: called with a line before each run.

  Returns:
    `summarize` of their figures (`load_or_evaluate`: kept in each run's
    directory), or None without such runs.
  """
  per_run = {}
  for result in results:
    if (result['model'] == 'acrn' and not result.get('scene_maps') and
        result['frames_per_clip'] == frames_per_clip):
      progress(f'heat-map localisation of {result["name"]} ...')
      per_run[result['name']] = load_or_evaluate(
          os.path.join(work_dir, 'runs', result['name']), dataset,
          os.path.join(work_dir, 'data', synthetic.VIDEOS_DIR))
  return summarize(per_run) if per_run else None


def summarize(per_run: Mapping[str, Mapping]) -> Dict:
  """Mean and sample std (0 for one run) of the fraction over runs, counts.

  Args:
    per_run: run name -> `evaluate_run` figure.

  Returns:
    {'runs': per_run, 'mean_fraction', 'std_fraction', 'mean_chance' (the
    chance levels' mean; the three None without a defined fraction),
    'num_actors', 'num_inside' (summed over runs), 'placements': {label:
    {name in heatmap_peaks.PLACEMENTS: actors summed over runs}}}.
  """
  defined = [r for r in per_run.values()
             if r['fraction'] is not None and not math.isnan(r['fraction'])]
  fractions = [r['fraction'] for r in defined]
  mean = float(np.mean(fractions)) if fractions else None
  std = (float(np.std(fractions, ddof=1)) if len(fractions) > 1
         else 0.0 if fractions else None)
  chance = float(np.mean([r['chance'] for r in defined])) if defined else None
  placements = {}
  for figure in per_run.values():
    for label, per_class in figure['per_class'].items():
      total = placements.setdefault(label, collections.Counter())
      total.update(per_class['placements'])
  return {'runs': dict(per_run), 'mean_fraction': mean, 'std_fraction': std,
          'mean_chance': chance,
          'placements': {label: {name: counts[name]
                                 for name, _ in heatmap_peaks.PLACEMENTS}
                         for label, counts in placements.items()},
          'num_actors': sum(r['num_actors'] for r in per_run.values()),
          'num_inside': sum(r['num_inside'] for r in per_run.values())}


def format_markdown(summary: Optional[Mapping]) -> List[str]:
  """The results page's section on the figure; nothing without runs."""
  if not summary or not summary['runs']:
    return []
  classes = ', '.join(f'`{c}`' for c in synthetic_config.RELATION_CLASSES)
  lines = [
      '## Heat-map localisation (paper 4.4 as a number)', '',
      'ACRN, every seed: for each correctly detected actor with a relation '
      f'label ({classes}; a detection with IoU >= {MIN_IOU:g} and a score '
      f'>= {MIN_SCORE:g} for the label), whether the maximum of its '
      'relation heat map for the label lies in its partner\'s box (the one '
      'passed to, one it looks at): the frame region of the map cell '
      'holding the maximum overlaps the box. Partners come from the '
      'generator\'s scenes, sampled again from the seed. Chance: the share '
      'of the map\'s cells that overlap the partner\'s box, what a maximum '
      'in a cell drawn at random would reach. The Base-Model has no heat '
      'map.', '']
  mean = summary['mean_fraction']
  lines.append(
      'Inside the partner\'s box: ' +
      ('undefined (no actor found)' if mean is None else
       f'**{100 * mean:.1f} %** ± {100 * summary["std_fraction"]:.1f} '
       f'(mean ± std over {len(summary["runs"])} runs; '
       f'{summary["num_inside"]} of {summary["num_actors"]} actors in '
       f'all); chance {100 * summary["mean_chance"]:.1f} %') + '.')
  labels = []
  for figure in summary['runs'].values():
    labels += [label for label in figure['per_class'] if label not in labels]
  lines += ['', '| Run | all | ' + ' | '.join(labels) + ' | chance |',
            '|---|---|' + '---|' * len(labels) + '---|']

  def cell(figure):
    if not figure or not figure['num_actors']:
      return '0 actors'
    return (f'{100 * figure["fraction"]:.1f} % ({figure["num_inside"]}/'
            f'{figure["num_actors"]})')

  for name, figure in summary['runs'].items():
    chance = ('-' if figure.get('chance') is None else
              f'{100 * figure["chance"]:.1f} %')
    lines.append(f'| {name} | {cell(figure)} | ' + ' | '.join(
        cell(figure['per_class'].get(label)) for label in labels) +
                 f' | {chance} |')
  return lines + [''] + _placement_lines(summary['placements'])


def _placement_lines(placements: Mapping[str, Mapping[str, int]]
                     ) -> List[str]:
  """The table of where the maxima lie (`heatmap_peaks.placement`)."""
  if not any(sum(counts.values()) for counts in placements.values()):
    return []
  bounds = [-math.inf] + [bound for _, bound in heatmap_peaks.PLACEMENTS]
  stretches = [
      f'{name} ({low:g} to {high:g})' if math.isfinite(low + high) else
      f'{name} (< {high:g})' if math.isfinite(high) else
      f'{name} (>= {low:g})'
      for (name, _), low, high in zip(heatmap_peaks.PLACEMENTS, bounds,
                                      bounds[1:])]
  lines = [
      'Where the maximum lies, every run: t is the centre of its cell '
      'projected onto the line from the actor\'s box centre (t = 0) to the '
      'partner\'s (t = 1), in map cells; actors per stretch of t.', '',
      '| Label | ' + ' | '.join(stretches) + ' |',
      '|---|' + '---|' * len(heatmap_peaks.PLACEMENTS)]
  for label, counts in placements.items():
    total = sum(counts.values())
    lines.append(f'| {label} | ' + ' | '.join(
        f'{100 * counts[name] / total:.0f} % ({counts[name]})' if total
        else '-' for name, _ in heatmap_peaks.PLACEMENTS) + ' |')
  return lines + ['']
