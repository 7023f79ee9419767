"""Runs independent benchmark runs side by side, each pinned to its cores.

One training step of the tiny models does not keep two cores busy. The
train seconds per 1000 steps of seed 0 at 8 frames (start-up included) in
the two committed accuracy reports, on the 2-core benchmark machine: one run
at a time on both cores (docs/results/results.json), Base-Model 271 s and
ACRN 333 s; two side by side, one core each
(docs/results/converged/results.json), 338 s and 438 s. Two runs side by
side therefore take about two thirds of the time of the two in a row
((338 + 438) / 2 against 271 + 333).

Every task runs in a fresh process (spawned, not forked: TensorFlow's
runtime does not survive a fork) pinned with `os.sched_setaffinity` to its
group of cores before its function is even imported, so TensorFlow sizes
its thread pools to that group. A task's function is named as
'module:function' for the same reason: importing it in the parent would
start TensorFlow there first. concurrent.futures' pool is reused for the
processes; what it lacks is the pinning, the per-task log file, and
stopping the running tasks when the caller is interrupted (its shutdown
waits for them to finish; `terminate_workers` is Python 3.14's).
"""

import concurrent.futures
import contextlib
import dataclasses
import importlib
import multiprocessing
import os
import signal
import threading
from typing import Any, Callable, Iterator, List, Optional, Sequence, Tuple


@dataclasses.dataclass(frozen=True)
class Task:
  """One unit of work for a worker process.

  Attributes:
    name: shown in progress lines and errors.
    function: 'package.module:function', imported in the worker.
    args: positional arguments (picklable).
    log_path: the worker's stdout and stderr go to this file (appended to);
      None leaves them on the parent's.
  """
  name: str
  function: str
  args: Tuple = ()
  log_path: Optional[str] = None


def schedulable_cores() -> List[int]:
  """The cores this process may run on (all of os.cpu_count() elsewhere)."""
  if hasattr(os, 'sched_getaffinity'):
    return sorted(os.sched_getaffinity(0))
  return list(range(os.cpu_count() or 1))


def core_groups(cores: Sequence[int], jobs: int) -> List[Tuple[int, ...]]:
  """Splits `cores` into `jobs` contiguous groups, sizes differing by <= 1.

  Raises:
    ValueError: if jobs is not in [1, len(cores)].
  """
  if not 1 <= jobs <= len(cores):
    raise ValueError(f'jobs must be in [1, {len(cores)}] (the cores this '
                     f'process may use: {list(cores)}), got {jobs}')
  size, extra = divmod(len(cores), jobs)
  groups, start = [], 0
  for index in range(jobs):
    end = start + size + (1 if index < extra else 0)
    groups.append(tuple(cores[start:end]))
    start = end
  return groups


def resolve_function(name: str) -> Callable:
  """Imports 'package.module:function'.

  Raises:
    ValueError: if name is not of that form or names nothing.
  """
  module_name, separator, attribute = name.partition(':')
  if not separator or not module_name or not attribute:
    raise ValueError(f"task function must be 'module:function', got {name!r}")
  function = getattr(importlib.import_module(module_name), attribute, None)
  if not callable(function):
    raise ValueError(f'task function {name!r}: module {module_name} has no '
                     f'function {attribute}')
  return function


def _work(function: str, args: Tuple, cores: Tuple[int, ...],
          log_path: Optional[str]) -> Any:
  """The worker's body: pin, redirect output, import and call."""
  if cores and hasattr(os, 'sched_setaffinity'):
    os.sched_setaffinity(0, cores)
  if log_path:
    descriptor = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                         0o644)
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    os.close(descriptor)
  return resolve_function(function)(*args)


class TaskError(RuntimeError):
  """A task raised; the message names the task and its log file."""


def run_tasks(tasks: Sequence[Task], jobs: int,
              on_start: Callable[[int, Task, Tuple[int, ...]], None] = None,
              on_done: Callable[[int, Task, Any], None] = None) -> List[Any]:
  """Runs every task in its own process, `jobs` at a time.

  Args:
    tasks: the work, started in this order.
    jobs: processes at once; the schedulable cores are split among them
      (see `core_groups`).
    on_start: called with (index, task, cores) as a task starts.
    on_done: called with (index, task, result) as a task finishes.

  Returns:
    The tasks' results, in task order.

  Raises:
    ValueError: for a bad `jobs`.
    TaskError: the first task that raised (the others running are waited
      for, the ones not started are not started).
    KeyboardInterrupt, SystemExit: the caller was interrupted (Ctrl-C, or
      SIGTERM under `exit_on_sigterm`); the running tasks' processes are
      terminated first.
  """
  groups = core_groups(schedulable_cores(), jobs)
  others = set(multiprocessing.active_children())
  results = [None] * len(tasks)
  context = multiprocessing.get_context('spawn')
  free = list(groups)
  running = {}
  pending = list(enumerate(tasks))
  with concurrent.futures.ProcessPoolExecutor(
      max_workers=jobs, mp_context=context,
      max_tasks_per_child=1) as executor:
    try:
      while pending or running:
        while pending and free:
          index, task = pending.pop(0)
          cores = free.pop(0)
          if on_start:
            on_start(index, task, cores)
          future = executor.submit(_work, task.function, tuple(task.args),
                                   cores, task.log_path)
          running[future] = (index, task, cores)
        done, _ = concurrent.futures.wait(
            running, return_when=concurrent.futures.FIRST_COMPLETED)
        for future in done:
          index, task, cores = running.pop(future)
          free.append(cores)
          error = future.exception()
          if error is not None:
            pending.clear()
            where = (f'; its output is in {task.log_path}' if task.log_path
                     else '')
            raise TaskError(f'{task.name} failed: {type(error).__name__}: '
                            f'{error}{where}') from error
          results[index] = future.result()
          if on_done:
            on_done(index, task, results[index])
    except BaseException as e:
      if not isinstance(e, TaskError):
        # Interrupted: a run can take many minutes; do not wait for it.
        for process in multiprocessing.active_children():
          if process not in others:
            process.terminate()
      executor.shutdown(wait=True, cancel_futures=True)
      raise
  return results


@contextlib.contextmanager
def exit_on_sigterm() -> Iterator[None]:
  """Within it, SIGTERM raises SystemExit(143) in the main thread.

  Python's default for SIGTERM ends the process at once: no `finally`, no
  `except` runs, and `run_tasks`' workers would go on training as orphans.
  As a SystemExit, `kill PID` stops a run like Ctrl-C does (a background
  job started from a script ignores SIGINT, so `kill` is how it is
  stopped). Outside the main thread it changes nothing.
  """
  if threading.current_thread() is not threading.main_thread():
    yield
    return

  def _raise(signum, frame):
    del frame
    raise SystemExit(128 + signum)

  previous = signal.signal(signal.SIGTERM, _raise)
  try:
    yield
  finally:
    signal.signal(signal.SIGTERM, previous)
