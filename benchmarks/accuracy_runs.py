"""One accuracy-benchmark run: train, evaluate on test, keep the result.

A run is a pipeline config and a directory. `train_and_evaluate` trains it
with `train_lib.train` (resuming its checkpoints), evaluates the last
checkpoint with `train_lib.evaluate_checkpoint` and writes result.json;
`train_jobs` does several, one after the other in this process or side by
side in worker processes (`run_pool`). `check_run_dir` refuses a directory
trained with another config, since a finished run is not run again and a
half trained one resumes.

What a run is (model, seed, clip length) is the caller's: its fields are a
dict copied into the result.
"""

import dataclasses
import json
import math
import os
import time
from typing import Callable, Dict, List, Mapping, Optional, Sequence

from google.protobuf import text_format
import tf_keras

from acrn_tf.builders import config_util
from acrn_tf.core import checkpoint_paths
from acrn_tf.protos import pipeline_pb2
from acrn_tf.training import train_lib
from benchmarks import loss_history
from benchmarks import run_pool

RESULT_JSON = 'result.json'
# A run's training and evaluation output when it runs in a worker process.
TRAIN_LOG = 'train.log'
# The evaluator's metrics key of the frame-AP results.
FRAME_AP = 'frame_ap'

ProgressFn = Callable[[str], None]


def _ap_or_none(value: float) -> Optional[float]:
  """AP as a JSON-friendly float; None where it is undefined (no gt)."""
  return None if math.isnan(value) else float(value)


def _per_class_ap(metrics: Dict) -> Dict[str, Optional[float]]:
  key = next(iter(metrics['mean_ap_by_iou']))
  return {entry['name']: _ap_or_none(entry['ap_by_iou'][key])
          for entry in metrics['classes']}


def _write_json(path: str, content: Dict) -> None:
  temporary = f'{path}.tmp-{os.getpid()}'
  with open(temporary, 'w', encoding='utf-8') as f:
    json.dump(content, f, indent=2)
    f.write('\n')
  os.replace(temporary, path)


def train_and_evaluate(fields: Mapping,
                       config: pipeline_pb2.TrainEvalPipelineConfig,
                       run_dir: str) -> Dict:
  """Trains one run (resuming its checkpoints) and evaluates it on test.

  Args:
    fields: what the run is (e.g. name, model, seed), copied into the result.
    config: the run's pipeline config; its eval input is the test split.
    run_dir: checkpoints, pipeline.config, test_eval/ and result.json go
      here.

  Returns:
    The run's result: `fields`, frame_ap (IoU 0.5), per_class_ap by class
    name (None where the test split has no ground truth of the class), the
    keyframes evaluated, steps, batch size, train and eval seconds, and
    the classification loss curve as [step, loss] pairs.
  """
  os.makedirs(run_dir, exist_ok=True)
  config_util.save_pipeline_config(config, run_dir)
  started = time.time()
  train_lib.train(config, run_dir)
  trained = time.time()
  checkpoint = checkpoint_paths.resolve(run_dir)
  metrics = train_lib.evaluate_checkpoint(
      config, checkpoint, os.path.join(run_dir, 'test_eval'))[FRAME_AP]
  result = dict(fields,
                frame_ap=_ap_or_none(metrics['mean_ap']),
                per_class_ap=_per_class_ap(metrics),
                num_test_keyframes=int(metrics['num_keyframes']),
                num_steps=int(config.train_config.num_steps),
                batch_size=int(config.train_config.batch_size),
                train_seconds=round(trained - started, 1),
                eval_seconds=round(time.time() - trained, 1),
                classification_loss=[
                    [step, round(value, 4)] for step, value in
                    loss_history.classification_loss(run_dir)])
  _write_json(os.path.join(run_dir, RESULT_JSON), result)
  return result


def train_and_evaluate_text(fields: Dict, config_text: str,
                            run_dir: str) -> Dict:
  """`train_and_evaluate` with picklable arguments, for `run_pool` workers.

  Args:
    fields: as for train_and_evaluate.
    config_text: the run's pipeline config in protobuf text format.
    run_dir: as for train_and_evaluate.
  """
  config = pipeline_pb2.TrainEvalPipelineConfig()
  text_format.Parse(config_text, config)
  return train_and_evaluate(fields, config, run_dir)


def load_result(run_dir: str) -> Optional[Dict]:
  """The run's result.json, or None if the run has not finished."""
  path = os.path.join(run_dir, RESULT_JSON)
  if not os.path.exists(path):
    return None
  with open(path, encoding='utf-8') as f:
    return json.load(f)


def points(ap: Optional[float]) -> str:
  """AP in points with two decimals, for progress lines."""
  return 'undefined' if ap is None else f'{100 * ap:.2f}'


class StaleRunError(ValueError):
  """A run directory holds a run trained with another config."""


def check_run_dir(run_dir: str,
                  config: pipeline_pb2.TrainEvalPipelineConfig) -> None:
  """Refuses a run directory trained (or half trained) with another config.

  A finished run is not run again and a half trained one resumes, so a run
  directory from another budget or base config would be taken for this
  one's.

  Raises:
    StaleRunError: naming the directory and the first line that differs.
  """
  path = os.path.join(run_dir, config_util.PIPELINE_CONFIG_NAME)
  if not os.path.exists(path):
    return
  old = text_format.MessageToString(
      config_util.read_pipeline_config(path)).splitlines()
  new = text_format.MessageToString(config).splitlines()
  if old == new:
    return
  line = next((i for i, (a, b) in enumerate(zip(old, new)) if a != b),
              min(len(old), len(new)))

  def shown(lines):
    return lines[line].strip() if line < len(lines) else '(end)'

  raise StaleRunError(
      f'{path} differs from the config this budget gives the run at line '
      f'{line + 1}: {shown(old)!r}, now {shown(new)!r}. Its run was trained '
      'with another budget or base config: remove the directory or give '
      'another work directory.')


@dataclasses.dataclass(frozen=True)
class Job:
  """One run to train: its progress label, fields, config and directory."""
  label: str
  fields: Mapping
  config: pipeline_pb2.TrainEvalPipelineConfig
  run_dir: str

  @property
  def name(self) -> str:
    return os.path.basename(self.run_dir)


def _done_line(job: Job, result: Dict, started: float) -> str:
  return (f'{job.label} {job.name}: frame-AP {points(result["frame_ap"])} '
          f'(train {result["train_seconds"]:.0f} s, eval '
          f'{result["eval_seconds"]:.0f} s; '
          f'{(time.time() - started) / 60:.1f} min so far)')


def train_jobs(job_list: Sequence[Job], jobs: int, progress: ProgressFn,
               started: float, in_process: bool) -> List[Dict]:
  """Trains and evaluates `job_list`; their results, in its order.

  Args:
    job_list: the runs.
    jobs: runs side by side when not in_process (see `run_pool`).
    progress: called with a line when a run starts and when it is done.
    started: time.time() the minutes in the done lines count from.
    in_process: one after the other in this process; otherwise each in a
      worker process whose output goes to the run's train.log.
  """
  results = [None] * len(job_list)

  def steps(job):
    return job.config.train_config.num_steps

  if in_process:
    for position, job in enumerate(job_list):
      progress(f'{job.label} {job.name}: training {steps(job)} steps ...')
      tf_keras.backend.clear_session()
      results[position] = train_and_evaluate(job.fields, job.config,
                                             job.run_dir)
      progress(_done_line(job, results[position], started))
    return results

  tasks = []
  for job in job_list:
    os.makedirs(job.run_dir, exist_ok=True)
    tasks.append(run_pool.Task(
        name=job.name,
        function=f'{__name__}:{train_and_evaluate_text.__name__}',
        args=(dict(job.fields), text_format.MessageToString(job.config),
              job.run_dir),
        log_path=os.path.join(job.run_dir, TRAIN_LOG)))

  def on_start(position, task, cores):
    progress(f'{job_list[position].label} {task.name}: training '
             f'{steps(job_list[position])} steps on '
             f'core{"s" if len(cores) > 1 else ""} '
             f'{",".join(map(str, cores))} (output in {task.log_path}) ...')

  def on_done(position, task, result):
    del task  # The job at `position` names it.
    results[position] = result
    progress(_done_line(job_list[position], result, started))

  run_pool.run_tasks(tasks, jobs, on_start, on_done)
  return results
