"""The accuracy benchmark: the paper's ablations (tables 1a-c) in miniature.

On the synthetic relational dataset (`acrn_tf.data.synthetic`, the
budget's preset, `stage` by default), trains the Base-Model, Resize+Concat,
the Santoro relation network and ACRN with one budget (steps, batch,
schedule, clip size) for several seeds (table 1a), Base-Model and ACRN at
several clip lengths (table 1b) and, when the budget names scene maps, ACRN
relating actors to other scene maps (S3D-G endpoints and scales, table 1c);
each model is evaluated (frame-AP at IoU 0.5, per-class AP) on the test
split.

Everything goes through the library a user runs: the dataset generator, the
AVA converter, `train_lib.train` and `train_lib.evaluate_checkpoint`. Runs
only differ in the relation module, the seeds and the clip length; all start
from one pipeline.config (default `configs/synthetic/acrn_stage.config`) and,
with `Budget.pretrain_steps`, from the S3D-G, actor detector and actor head
of one pretraining run (a Base-Model), as the paper's models all start from
one pretrained S3D-G and person detector.

The work directory keeps everything; a run whose result.json is there is not
run again, so an interrupted benchmark continues where it stopped (a half
trained run resumes from its last checkpoint).

  work_dir/data/          the generated videos and AVA csv files
  work_dir/records/       train-*.tfrecord, test-*.tfrecord
  work_dir/runs/<run>/    checkpoints, pipeline.config, test_eval/, result.json
                          (and train.log when runs go side by side; an ACRN
                          seed run's localisation.json, see
                          `heatmap_localisation`)
  work_dir/runs/pretrain/ the pretraining run, laid out the same way
  work_dir/invocations.json  each invocation's wall time, so a benchmark
                          done over several invocations reports the sum

A run directory whose pipeline.config differs from the one the budget now
gives is refused (`accuracy_runs.StaleRunError`) rather than taken for the
run. Training, evaluating and keeping one run's result is
`accuracy_runs`'.
"""

import dataclasses
import datetime
import json
import os
import time
from typing import Dict, List, Optional, Sequence

from acrn_tf.builders import config_util
from acrn_tf.builders import config_validation
from acrn_tf.builders import optimizer_builder
from acrn_tf.data import label_map_util
from acrn_tf.data.conversion import ava
from acrn_tf.data.conversion import conversion
from acrn_tf.data.synthetic import synthetic
from acrn_tf.protos import pipeline_pb2
from acrn_tf.protos import train_pb2
from benchmarks import accuracy_budget
from benchmarks import accuracy_runs
from benchmarks import scene_map_specs

# Table 1a's rows, in the paper's order: model key -> relation module field.
MODELS = ('base', 'resize_concat', 'santoro', 'acrn')
RELATION_FIELD = {'base': 'none', 'resize_concat': 'resize_concat',
                  'santoro': 'santoro', 'acrn': 'acrn'}
MODEL_TITLES = {'base': 'Base-Model', 'resize_concat': 'Resize+Concat',
                'santoro': 'Santoro et al. (relation network)',
                'acrn': 'ACRN'}
# Table 1b compares these two at every clip length.
CLIP_LENGTH_MODELS = ('base', 'acrn')
# Table 1c varies the scene maps of this model.
SCENE_MAP_MODEL = 'acrn'


@dataclasses.dataclass(frozen=True)
class Run:
  """One training and evaluation: a model, a seed, a clip length and, for
  table 1c, the scene maps ('' keeps the base config's)."""
  model: str
  seed: int
  frames_per_clip: int
  scene_maps: str = ''

  @property
  def name(self) -> str:
    name = f'{self.model}_f{self.frames_per_clip}_s{self.seed}'
    return f'{name}_{self.scene_maps}' if self.scene_maps else name

  def fields(self) -> Dict:
    """The run as its result.json records it: model, seed, clip, scene maps
    (if not the config's), name."""
    fields = dict(dataclasses.asdict(self), name=self.name)
    if not self.scene_maps:
      del fields['scene_maps']
    return fields


# A result's key of `scene_map_specs.of_config` of the run's config.
RELATION_SCENE_MAPS = 'relation_scene_maps'
# The pretraining run's directory under work_dir/runs.
PRETRAIN = 'pretrain'
INVOCATIONS_JSON = 'invocations.json'


def pretrain_run(budget: accuracy_budget.Budget) -> Run:
  """The run whose shared parts every run starts from (pretrain_steps > 0)."""
  return Run('base', budget.seeds[0], budget.frames_per_clip)


def plan_runs(budget: accuracy_budget.Budget,
              config_scene_maps: str = 'Mixed_4f@1'
              ) -> List[Run]:
  """Every run of the benchmark, first seed first (tables 1a, 1b, 1c).

  A run shared by two tables (first seed, table 1a's clip length, the
  config's scene maps) appears once.

  Args:
    budget: the budget.
    config_scene_maps: `scene_map_specs.of_config` of the base config: the
      table 1c spec that is table 1a's ACRN run.
  """
  runs = [Run(model, seed, budget.frames_per_clip)
          for seed in budget.seeds for model in MODELS]
  for frames in budget.clip_lengths:
    for model in CLIP_LENGTH_MODELS:
      run = Run(model, budget.seeds[0], frames)
      if run not in runs:
        runs.append(run)
  same = (scene_map_specs.parse(config_scene_maps) if config_scene_maps
          else None)
  for spec in budget.scene_maps:
    scene = '' if scene_map_specs.parse(spec) == same else spec
    run = Run(SCENE_MAP_MODEL, budget.seeds[0], budget.frames_per_clip, scene)
    if run not in runs:
      runs.append(run)
  return runs


@dataclasses.dataclass(frozen=True)
class DatasetPaths:
  """Where the benchmark's data is."""
  data_dir: str
  label_map_path: str
  train_records: str
  test_records: str


def _records_pattern(records_dir: str, split: str) -> str:
  return os.path.join(records_dir, f'{split}-?????-of-?????.tfrecord')


def dataset_paths(work_dir: str) -> DatasetPaths:
  """Where `prepare_dataset` puts the data of `work_dir`."""
  data_dir = os.path.join(work_dir, 'data')
  records_dir = os.path.join(work_dir, 'records')
  return DatasetPaths(
      data_dir,
      os.path.join(data_dir, synthetic.ANNOTATIONS_DIR,
                   synthetic.LABEL_MAP_FILE),
      _records_pattern(records_dir, 'train'),
      _records_pattern(records_dir, 'test'))


def dataset_config(budget: accuracy_budget.Budget
                   ) -> synthetic.SyntheticConfig:
  """The synthetic dataset of a budget: its preset with its overrides."""
  return synthetic.get_preset(budget.preset, **dict(budget.dataset_overrides))


def check_frame_shape(config: pipeline_pb2.TrainEvalPipelineConfig,
                      dataset: synthetic.SyntheticConfig,
                      config_path: str = 'the base config') -> None:
  """Refuses a config whose input frames have another shape than the data's.

  The input pipeline resizes every frame to the readers' image size: a
  uniform scale is a choice, but another aspect ratio would squash the
  scene (e.g. a 96x960 preset read at 96x384).

  Raises:
    ValueError: naming both sizes.
  """
  for name in ('train_input_reader', 'eval_input_reader'):
    reader = getattr(config, name)
    reader = reader[0] if name == 'eval_input_reader' else reader
    aspect = reader.image_width / reader.image_height
    data_aspect = dataset.frame_width / dataset.frame_height
    if abs(aspect / data_aspect - 1.0) > 0.01:
      raise ValueError(
          f'{config_path}: {name} reads {reader.image_height}x'
          f'{reader.image_width} frames, but preset {dataset.preset!r} has '
          f'{dataset.frame_height}x{dataset.frame_width} frames (another '
          'aspect ratio): give a config of the preset\'s frame shape')


def prepare_dataset(work_dir: str, budget: accuracy_budget.Budget,
                    progress: accuracy_runs.ProgressFn = print) -> DatasetPaths:
  """Generates the synthetic videos and converts train and test to records.

  Both steps are skipped when their outputs are complete (the converter
  keeps finished shards), so a second call is quick.

  Returns:
    `dataset_paths(work_dir)`.
  """
  paths = dataset_paths(work_dir)
  data_dir = paths.data_dir
  records_dir = os.path.join(work_dir, 'records')
  annotations_dir = os.path.join(data_dir, synthetic.ANNOTATIONS_DIR)
  info_path = os.path.join(annotations_dir, synthetic.DATASET_INFO_FILE)
  config = dataset_config(budget)
  if not os.path.exists(info_path):
    progress(f'generating the synthetic dataset (preset {budget.preset}) in '
             f'{data_dir}')
    started = time.time()
    synthetic.generate_dataset(data_dir, config)
    progress(f'  {time.time() - started:.0f} s')
  label_map = label_map_util.read_label_map(paths.label_map_path)
  options = conversion.ConversionOptions(frames_per_clip=budget.max_frames,
                                         frame_stride=1, num_threads=2)
  videos_dir = os.path.join(data_dir, synthetic.VIDEOS_DIR)
  for split in ('train', 'test'):
    started = time.time()
    result = ava.read_annotations(
        os.path.join(annotations_dir, f'{split}.csv'), videos_dir,
        label_map=label_map,
        excluded_timestamps_csv=os.path.join(
            annotations_dir, synthetic.EXCLUDED_TIMESTAMPS_FILE))
    summary = conversion.convert(result.keyframes, label_map,
                                 os.path.join(records_dir, split), options,
                                 num_shards=2, videos_dir=videos_dir)
    progress(f'records {split}: {summary.examples_written} keyframes '
             f'({time.time() - started:.0f} s)')
  return paths


# What a run restores from the pretraining run (SHARED_PARTS), frozen with
# Budget.freeze_pretrained.
_PRETRAINED_PARTS = (train_pb2.TrainConfig.FEATURE_EXTRACTOR,
                     train_pb2.TrainConfig.ACTOR_DETECTOR,
                     train_pb2.TrainConfig.ACTOR_HEAD)


def run_config(base: pipeline_pb2.TrainEvalPipelineConfig, run: Run,
               budget: accuracy_budget.Budget, paths: DatasetPaths,
               pretrained_dir: Optional[str] = None
               ) -> pipeline_pb2.TrainEvalPipelineConfig:
  """The pipeline config of one run: `base` with the run's changes.

  Args:
    base: the config every run starts from.
    run: the run.
    budget: steps, schedule and evaluation size.
    paths: the records and label map.
    pretrained_dir: the pretraining run's directory: the run warm-starts
      its shared parts from its latest checkpoint (and, with
      budget.freeze_pretrained, does not train them). None: from scratch.
  """
  config = _config(base, run, budget, paths, budget.num_steps,
                   budget.warmup_steps, pretrained_dir)
  train = config.train_config
  if budget.freeze_pretrained and pretrained_dir is not None:
    train.frozen_part.extend(_PRETRAINED_PARTS)
  if budget.constant_learning_rate is not None:
    schedule = optimizer_builder.learning_rate_config(train.optimizer)
    schedule.constant_learning_rate.learning_rate = (
        budget.constant_learning_rate)
  if budget.foreground_fraction is not None:
    config.model.video_faster_rcnn.action_head.foreground_fraction = (
        budget.foreground_fraction)
  config_util.validate(config)
  return config


def pretrain_config(base: pipeline_pb2.TrainEvalPipelineConfig,
                    budget: accuracy_budget.Budget, paths: DatasetPaths
                    ) -> pipeline_pb2.TrainEvalPipelineConfig:
  """The pretraining run's config: pretrain_steps, a tenth warm-up."""
  if budget.pretrain_steps < 1:
    raise ValueError('budget.pretrain_steps is 0: the budget has no '
                     'pretraining run')
  return _config(base, pretrain_run(budget), budget, paths,
                 budget.pretrain_steps, budget.pretrain_steps // 10, None)


def _config(base, run, budget, paths, num_steps, warmup_steps,
            pretrained_dir):
  config = pipeline_pb2.TrainEvalPipelineConfig()
  config.CopyFrom(base)
  meta = config.model.video_faster_rcnn
  relation = meta.relation_module
  getattr(relation, RELATION_FIELD[run.model]).SetInParent()
  if RELATION_FIELD[run.model] not in config_validation.G_THETA_MODULES:
    # No g_theta: the base config's choice is for santoro and acrn.
    relation.ClearField('actor_feature_in_g_theta')
  if run.model == 'base':
    relation.ClearField('scene_features')
  elif run.scene_maps:
    relation.ClearField('scene_features')
    for endpoint, scale in scene_map_specs.parse(run.scene_maps):
      relation.scene_features.add(endpoint=endpoint, scale=scale)
  train = config.train_config
  # bfloat16 compute (float32 variables, logits and losses): 1.55x the
  # float32 steps/s on the stage frames, which FULL's and QUICK's step
  # counts assume. XLA stays off: slower there (see FULL).
  train.mixed_precision = train_pb2.TrainConfig.MIXED_BFLOAT16
  train.seed = run.seed
  train.num_steps = num_steps
  train.checkpoint_every_n = num_steps
  if pretrained_dir is not None:
    train.fine_tune_checkpoint = pretrained_dir
    train.fine_tune_checkpoint_type = train_pb2.TrainConfig.SHARED_PARTS
  schedule = optimizer_builder.learning_rate_config(train.optimizer)
  kind = schedule.WhichOneof('learning_rate') if schedule else None
  if kind == 'cosine_decay_learning_rate':
    schedule.cosine_decay_learning_rate.total_steps = num_steps
    schedule.cosine_decay_learning_rate.warmup_steps = warmup_steps
    if budget.learning_rate is not None:
      schedule.cosine_decay_learning_rate.learning_rate_base = (
          budget.learning_rate)
  elif budget.learning_rate is not None:
    raise ValueError(
        'budget.learning_rate replaces a cosine_decay_learning_rate\'s '
        'learning_rate_base; the config\'s schedule is '
        f'{kind or "unset"}')
  for reader, records in ((config.train_input_reader, paths.train_records),
                          (config.eval_input_reader[0], paths.test_records)):
    del reader.tf_record_input_reader.input_path[:]
    reader.tf_record_input_reader.input_path.append(records)
    reader.label_map_path = paths.label_map_path
    reader.frames_per_clip = run.frames_per_clip
  config.train_input_reader.seed = run.seed
  config.eval_config.num_examples = budget.num_eval_examples
  config.eval_config.num_visualizations = 0
  config_util.validate(config)
  return config


def relation_settings(base: pipeline_pb2.TrainEvalPipelineConfig) -> str:
  """What the runs' relation modules read, as the report states it."""
  relation = base.model.video_faster_rcnn.relation_module
  maps = ', '.join(f'{f.endpoint} at scale {f.scale:g}'
                   for f in relation.scene_features) or (
                       'the feature map F at scale 1')
  if relation.actor_feature_in_g_theta:
    g_theta = ('f_a, the actor\'s box, each scene cell and its location '
               '(paper eq. 2)')
  else:
    g_theta = ('the actor\'s box, each scene cell and its location, not f_a '
               '(relation_module.actor_feature_in_g_theta false; paper eq. 2 '
               'has f_a too), and f_a meets the relation feature in the '
               'classifier')
  return (f'The relation modules relate each actor to {maps}. The g_theta '
          f'of Santoro et al. and of ACRN reads {g_theta}.')


def pretrain(base: pipeline_pb2.TrainEvalPipelineConfig, work_dir: str,
             budget: accuracy_budget.Budget, paths: DatasetPaths,
             progress: accuracy_runs.ProgressFn, jobs: int,
             started: float) -> Dict:
  """Trains the pretraining run unless done; its result.

  It runs alone: in this process when jobs is 1, else in one worker process
  on all the cores the runs would share.
  """
  run_dir = os.path.join(work_dir, 'runs', PRETRAIN)
  config = pretrain_config(base, budget, paths)
  accuracy_runs.check_run_dir(run_dir, config)
  result = accuracy_runs.load_result(run_dir)
  if result is not None:
    progress(f'[pretrain] {PRETRAIN}: done before, frame-AP '
             f'{accuracy_runs.points(result["frame_ap"])}')
    return result
  job = accuracy_runs.Job('[pretrain]', pretrain_run(budget).fields(),
                          config, run_dir)
  return accuracy_runs.train_jobs([job], 1, progress, started,
                                  in_process=jobs == 1)[0]


def run_benchmark(base_config_path: str, work_dir: str,
                  budget: accuracy_budget.Budget,
                  progress: accuracy_runs.ProgressFn = print,
                  runs: Optional[Sequence[Run]] = None,
                  jobs: int = 1) -> List[Dict]:
  """Prepares the data and does every run not done yet; returns results.

  With budget.pretrain_steps, the pretraining run (work_dir/runs/pretrain)
  comes first; its result is `accuracy_runs.load_result` of that
  directory.

  Args:
    base_config_path: the pipeline.config every run starts from.
    work_dir: see the module docstring.
    budget: the Budget (validated here).
    progress: called with one line of progress text at a time.
    runs: a subset of `plan_runs(budget)` (default all).
    jobs: runs side by side. 1 trains in this process; more train each run
      in its own process pinned to a share of the cores (see `run_pool`),
      with its output in the run's train.log.

  Returns:
    The results of the runs, in plan order, each with the spec of the
    scene maps its relation module related to (RELATION_SCENE_MAPS; '' for
    the Base-Model), from its config.
  """
  budget.validate()
  base = config_util.read_pipeline_config(base_config_path)
  check_frame_shape(base, dataset_config(budget), base_config_path)
  paths = dataset_paths(work_dir)
  runs = (list(runs) if runs is not None
          else plan_runs(budget, scene_map_specs.of_config(base)))
  results = [None] * len(runs)
  pretrained_dir = (os.path.join(work_dir, 'runs', PRETRAIN)
                    if budget.pretrain_steps else None)
  configs = [run_config(base, run, budget, paths, pretrained_dir)
             for run in runs]
  # Before any work: a stale directory is refused in seconds.
  for run, config in zip(runs, configs):
    accuracy_runs.check_run_dir(os.path.join(work_dir, 'runs', run.name),
                                config)
  if budget.pretrain_steps:
    accuracy_runs.check_run_dir(pretrained_dir,
                                pretrain_config(base, budget, paths))
  prepare_dataset(work_dir, budget, progress)
  started = time.time()
  if budget.pretrain_steps:
    pretrain(base, work_dir, budget, paths, progress, jobs, started)
  todo, todo_positions = [], []
  for index, (run, config) in enumerate(zip(runs, configs)):
    run_dir = os.path.join(work_dir, 'runs', run.name)
    label = f'[{index + 1}/{len(runs)}]'
    results[index] = accuracy_runs.load_result(run_dir)
    if results[index] is None:
      todo.append(accuracy_runs.Job(label, run.fields(), config, run_dir))
      todo_positions.append(index)
    else:
      progress(f'{label} {run.name}: done before, frame-AP '
               f'{accuracy_runs.points(results[index]["frame_ap"])}')
  done = accuracy_runs.train_jobs(todo, jobs, progress, started,
                                  in_process=jobs == 1)
  for index, result in zip(todo_positions, done):
    results[index] = result
  for result, config in zip(results, configs):
    result[RELATION_SCENE_MAPS] = scene_map_specs.of_config(config)
  return results


def record_invocation(work_dir: str, started: float, finished: float,
                      completed: bool) -> List[Dict]:
  """Records one invocation in work_dir/invocations.json; returns them all.

  An interrupted benchmark continues in a later invocation, so its wall time
  is the sum over invocations: each records its start (UTC, ISO), minutes
  and whether it completed. An invocation already recorded with the same
  start is updated, so a running benchmark can record itself as it goes
  and a killed one keeps the time up to its last record.
  """
  path = os.path.join(work_dir, INVOCATIONS_JSON)
  invocations = []
  if os.path.exists(path):
    with open(path, encoding='utf-8') as f:
      invocations = json.load(f)
  entry = {
      'started': datetime.datetime.fromtimestamp(
          started, datetime.timezone.utc).isoformat(timespec='seconds'),
      'minutes': round((finished - started) / 60, 2),
      'completed': bool(completed)}
  invocations = [i for i in invocations if i['started'] != entry['started']]
  invocations.append(entry)
  os.makedirs(work_dir, exist_ok=True)
  temporary = f'{path}.tmp-{os.getpid()}'
  with open(temporary, 'w', encoding='utf-8') as f:
    json.dump(invocations, f, indent=2)
    f.write('\n')
  os.replace(temporary, path)
  return invocations
