"""run_pool: core groups, task functions, and tasks in pinned processes."""

import multiprocessing
import os
import re
import signal
import threading
import time

import pytest

from benchmarks import run_pool


def _jobs():
  return min(2, len(run_pool.schedulable_cores()))


@pytest.mark.parametrize('cores, jobs, groups', [
    ([0, 1], 2, [(0,), (1,)]),
    ([0, 1], 1, [(0, 1)]),
    ([0, 1, 2, 3, 4], 2, [(0, 1, 2), (3, 4)]),
    ([4, 6, 7], 3, [(4,), (6,), (7,)]),
])
def test_core_groups(cores, jobs, groups):
  assert run_pool.core_groups(cores, jobs) == groups


@pytest.mark.parametrize('jobs', [0, 3])
def test_core_groups_refuses_a_bad_jobs(jobs):
  with pytest.raises(
      ValueError, match=rf'jobs must be in \[1, 2\] .*\[0, 1\]\), got {jobs}'):
    run_pool.core_groups([0, 1], jobs)


def test_resolve_function():
  assert run_pool.resolve_function('os.path:join') is os.path.join
  with pytest.raises(ValueError,
                     match="must be 'module:function', got 'os.getpid'"):
    run_pool.resolve_function('os.getpid')
  with pytest.raises(ValueError,
                     match='module os has no function nothing_here'):
    run_pool.resolve_function('os:nothing_here')


def test_tasks_run_in_their_own_processes_pinned_to_their_cores():
  jobs = _jobs()
  groups = run_pool.core_groups(run_pool.schedulable_cores(), jobs)
  started, done = [], []
  tasks = [run_pool.Task(f'affinity{i}', 'os:sched_getaffinity', (0,))
           for i in range(3)]
  tasks.append(run_pool.Task('pid', 'os:getpid'))
  results = run_pool.run_tasks(
      tasks, jobs,
      on_start=lambda i, task, cores: started.append((i, cores)),
      on_done=lambda i, task, result: done.append((i, result)))
  for affinity in results[:3]:
    assert tuple(sorted(affinity)) in groups
  assert results[3] != os.getpid()
  assert [i for i, _ in started] == [0, 1, 2, 3]
  assert all(cores in groups for _, cores in started)
  assert sorted(done, key=lambda pair: pair[0]) == list(enumerate(results))


def test_output_goes_to_the_log(tmp_path):
  log = str(tmp_path / 'task.log')
  run_pool.run_tasks([run_pool.Task('write', 'os:write', (1, b'to stdout\n'),
                                    log_path=log),
                      run_pool.Task('write', 'os:write', (2, b'to stderr\n'),
                                    log_path=log)], jobs=1)
  with open(log, encoding='utf-8') as f:
    assert f.read() == 'to stdout\nto stderr\n'


def test_a_failing_task_is_named_with_its_log(tmp_path):
  log = str(tmp_path / 'bad.log')
  tasks = [run_pool.Task('bad', 'os:getcwd', ('no arguments taken',),
                         log_path=log),
           run_pool.Task('never', 'os:getpid')]
  with pytest.raises(run_pool.TaskError,
                     match=r'^bad failed: TypeError: .*; its output is in '
                           + re.escape(log)):
    run_pool.run_tasks(tasks, jobs=1)


def test_an_interrupted_caller_terminates_the_running_tasks():
  if _jobs() < 2:
    pytest.skip('needs two cores: one task sleeps while the other finishes')

  def interrupt(index, task, result):
    del index, task, result
    raise KeyboardInterrupt

  tasks = [run_pool.Task('sleeper', 'time:sleep', (120,)),
           run_pool.Task('quick', 'os:getpid')]
  start = time.monotonic()
  with pytest.raises(KeyboardInterrupt):
    run_pool.run_tasks(tasks, jobs=2, on_done=interrupt)
  # Waiting for the sleeper would take 120 s; its process is terminated.
  assert time.monotonic() - start < 60
  assert not multiprocessing.active_children()


def test_sigterm_stops_the_tasks_as_system_exit():
  timer = threading.Timer(3.0, os.kill, (os.getpid(), signal.SIGTERM))
  previous = signal.getsignal(signal.SIGTERM)
  start = time.monotonic()
  with pytest.raises(SystemExit) as raised:
    with run_pool.exit_on_sigterm():
      timer.start()
      run_pool.run_tasks([run_pool.Task('sleeper', 'time:sleep', (120,))],
                         jobs=1)
  timer.join()
  assert raised.value.code == 128 + signal.SIGTERM
  assert time.monotonic() - start < 60
  assert not multiprocessing.active_children()
  assert signal.getsignal(signal.SIGTERM) is previous
