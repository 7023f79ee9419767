"""loss_history: curves written with tf.summary read back, and plotted."""

import os

import tensorflow as tf

from acrn_tf.core import standard_fields as fields
from benchmarks import loss_history

_TAG = fields.LossFields.classification


def _write(log_dir, points, tag=_TAG):
  writer = tf.summary.create_file_writer(log_dir)
  with writer.as_default():
    for step, value in points:
      tf.summary.scalar('learning_rate', 0.1, step=step)
      tf.summary.scalar(tag, value, step=step)
  writer.close()


def _files(log_dir):
  return sorted(os.listdir(log_dir))


def test_a_resumed_run_keeps_the_later_values(tmp_path):
  log_dir = str(tmp_path / 'train')
  _write(log_dir, [(10, 1.5), (20, 1.25), (30, 1.0)])
  first = _files(log_dir)[0]
  # The resumed run restarts from step 20 and logs it again; its file starts
  # a second later, however the names sort.
  _write(log_dir, [(20, 0.75), (40, 0.5)])
  second = [f for f in _files(log_dir) if f != first][0]
  parts = first.split('.')
  parts[3] = str(int(parts[3]) + 1)
  os.rename(os.path.join(log_dir, second),
            os.path.join(log_dir, '.'.join(parts) + '.resumed'))
  assert loss_history.read_scalars(log_dir, _TAG) == [
      (10, 1.5), (20, 0.75), (30, 1.0), (40, 0.5)]


def test_a_missing_tag_or_directory_gives_nothing(tmp_path):
  _write(str(tmp_path), [(10, 1.5)], tag='other')
  assert loss_history.read_scalars(str(tmp_path), _TAG) == []
  assert loss_history.read_scalars(str(tmp_path / 'none'), _TAG) == []


def test_a_file_cut_short_gives_what_it_holds(tmp_path):
  log_dir = str(tmp_path)
  _write(log_dir, [(10, 1.5), (20, 1.25), (30, 1.0)])
  path = os.path.join(log_dir, _files(log_dir)[0])
  with open(path, 'rb') as f:
    content = f.read()
  with open(path, 'wb') as f:
    f.write(content[:-7])  # into the last record, `tag` at step 30
  curve = loss_history.read_scalars(log_dir, _TAG)
  assert curve == [(10, 1.5), (20, 1.25)]


def test_classification_loss_reads_the_run_dirs_train_logs(tmp_path):
  _write(str(tmp_path / 'train'), [(10, 2.0)])
  assert loss_history.classification_loss(str(tmp_path)) == [(10, 2.0)]


def test_plot_curves_writes_a_png(tmp_path):
  path = str(tmp_path / 'loss.png')
  loss_history.plot_curves(path, {'A': [(10, 1.5), (20, 1.0)], 'B': []},
                           'title')
  with open(path, 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  assert os.listdir(tmp_path) == ['loss.png']
