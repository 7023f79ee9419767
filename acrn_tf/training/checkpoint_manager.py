"""A checkpoint manager whose interval checkpoints fall on its multiples.

`tf.train.CheckpointManager` counts `checkpoint_interval` from its first
save; orbit's Controller asks for one after every loop, so with 10-step
loops and checkpoint_every_n 200 the checkpoints fell at steps 10, 210,
410. `IntervalCheckpointManager` subclasses it (it is the manager orbit and
`tf.train.Checkpoint` expect) and changes only when an interval save
happens.
"""

import tensorflow as tf


class IntervalCheckpointManager(tf.train.CheckpointManager):
  """A CheckpointManager whose interval checkpoints fall on its multiples.

  `tf.train.CheckpointManager` counts its interval from its first save,
  which orbit's Controller asks for after the first loop: with 10-step loops
  and checkpoint_every_n 200, checkpoints fell at steps 10, 210, 410. This
  one saves, when asked with the interval check, only once the step has
  reached a multiple of the interval it has not saved at (200, 400, ...);
  without the check (the end of training) it saves as the base class does.
  """

  def __init__(self, *args, **kwargs):
    super().__init__(*args, **kwargs)
    latest = self.latest_checkpoint
    # A resumed job continues from its last checkpoint's multiple.
    self._saved_multiple = (step_from_name(latest) // self._interval()
                            if latest and self._interval() else 0)

  def _interval(self):
    return self.checkpoint_interval or 0

  def save(self, checkpoint_number=None, check_interval=True, options=None):
    """Saves at a new multiple of the interval (see the class docstring)."""
    step = int(checkpoint_number if checkpoint_number is not None else
               self._step_counter.numpy())
    interval = self._interval()
    if check_interval and interval:
      if step // interval <= self._saved_multiple:
        return None
    path = super().save(checkpoint_number=checkpoint_number,
                        check_interval=False, options=options)
    if path is not None and interval:
      self._saved_multiple = step // interval
    return path


def step_from_name(path: str) -> int:
  """N of a `.../ckpt-N` prefix (0 when it has none)."""
  suffix = path.rsplit('-', 1)[-1]
  return int(suffix) if suffix.isdigit() else 0
