"""evaluate: the CLI end to end on files the test writes (as a subprocess)."""

import json
import os
import subprocess
import sys

from acrn_tf.evaluation import tube_linking
from acrn_tf.evaluation import video_ap

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
_TOOL = os.path.join(_REPO, 'tools', 'evaluate.py')

LABEL_MAP = ('label { name: "stand" label_id: 1 label_type: POSE }\n'
             'label { name: "talk" label_id: 2 label_type: INTERACTION }\n')
# x1, y1, x2, y2
BOX_A = '0.100,0.100,0.300,0.300'
BOX_B = '0.600,0.600,0.900,0.900'


def _run(args, cwd):
  # The package of this tree, not whichever one is installed.
  env = dict(os.environ, PYTHONPATH=_REPO)
  return subprocess.run([sys.executable, _TOOL] + args, cwd=cwd, env=env,
                        capture_output=True, text=True, timeout=120,
                        check=False)


def _write(directory, name, text):
  path = os.path.join(directory, name)
  with open(path, 'w') as f:
    f.write(text)
  return path


def _ava_files(directory):
  # 0902: A stands and talks, B stands. 0903 (excluded): B talks.
  groundtruth = _write(directory, 'gt.csv', '\n'.join([
      f'vid,0902,{BOX_A},1,0', f'vid,0902,{BOX_A},2,0',
      f'vid,0902,{BOX_B},1,1', f'vid,0903,{BOX_B},2,1']) + '\n')
  # stand: A found, B missed: AP 1/2; talk: A found: AP 1 (0903's far
  # detection is excluded with its gt). mAP 3/4.
  detections = _write(directory, 'det.csv', '\n'.join([
      f'vid,0902,{BOX_A},1,0.9', f'vid,0902,{BOX_A},2,0.8',
      'vid,0903,0.0,0.0,0.05,0.05,2,0.99']) + '\n')
  label_map = _write(directory, 'label_map.pbtxt', LABEL_MAP)
  excluded = _write(directory, 'excluded.csv', 'vid,0903\n')
  return groundtruth, detections, label_map, excluded


def test_ava_frame_ap_end_to_end(tmp_path):
  directory = str(tmp_path)
  groundtruth, detections, label_map, excluded = _ava_files(directory)
  output_dir = os.path.join(directory, 'out')
  result = _run(['--metric=ava_frame_ap', f'--groundtruth_csv={groundtruth}',
                 f'--detections_csv={detections}',
                 f'--label_map_path={label_map}',
                 f'--excluded_timestamps_csv={excluded}',
                 f'--output_dir={output_dir}'], directory)
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  assert lines[0].split() == ['id', 'name', 'gt', 'det', 'AP@0.5']
  assert lines[1].split() == ['1', 'stand', '2', '1', '50.00']
  assert lines[2].split() == ['2', 'talk', '1', '1', '100.00']
  assert 'ava_frame_ap mAP@0.5: 75.00%' in lines
  assert 'PascalBoxes_Precision/mAP@0.5IOU = 0.750000' in lines
  assert sorted(os.listdir(output_dir)) == [
      'metrics.json', 'per_class_ap.csv', 'pr_curves.png']
  with open(os.path.join(output_dir, 'metrics.json')) as f:
    assert json.load(f)['mean_ap'] == 0.75
  # Without the exclusions, 0903's gt (talk) is missed and its far
  # detection (0.99) ranks first: talk P = 0, 1/2 at R = 0, 1/2: AP 1/4.
  result = _run(['--metric=ava_frame_ap', f'--groundtruth_csv={groundtruth}',
                 f'--detections_csv={detections}',
                 f'--label_map_path={label_map}'], directory)
  assert result.returncode == 0, result.stderr
  assert 'ava_frame_ap mAP@0.5: 37.50%' in result.stdout.splitlines()


def test_ava_unannotated_keyframes_are_counted_and_their_rule_said(tmp_path):
  directory = str(tmp_path)
  groundtruth, _, label_map, _ = _ava_files(directory)
  # 0902 as in _ava_files (stand: A found, B missed; talk: A found), plus
  # a far talk detection at 0.99 on 0950, which the groundtruth lacks.
  detections = _write(directory, 'det.csv', '\n'.join([
      f'vid,0902,{BOX_A},1,0.9', f'vid,0902,{BOX_A},2,0.8',
      'vid,0950,0.0,0.0,0.05,0.05,2,0.99']) + '\n')
  args = ['--metric=ava_frame_ap', f'--groundtruth_csv={groundtruth}',
          f'--detections_csv={detections}', f'--label_map_path={label_map}']
  # Current: 0950 ignored. stand 1/2; talk: A found, 0903's B missed: 1/2.
  result = _run(args, directory)
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  assert 'ava_frame_ap mAP@0.5: 50.00%' in lines
  assert ('1 detection keyframes (1 rows) are not in the groundtruth csv: '
          'ignored (neither true nor false positives), as the current '
          'ActivityNet evaluator ignores them.') in lines
  assert ('protocol: AVA (ActivityNet get_ava_performance.py, current '
          'release)') in lines
  # v2.1: the 0.99 false positive ranks first: talk P = 0, 1/2 at R = 0,
  # 1/2: AP 1/4; mAP 3/8.
  result = _run(args + ['--ava_evaluator_version=v2.1'], directory)
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  assert 'ava_frame_ap mAP@0.5: 37.50%' in lines
  assert ('1 detection keyframes (1 rows) are not in the groundtruth csv: '
          'scored as false positives.') in lines


def test_frame_ap_with_thresholds_and_fractional_timestamps(tmp_path):
  directory = str(tmp_path)
  groundtruth = _write(directory, 'gt.csv', f'vid,12.25,{BOX_A},1\n')
  # IoU 0.6 (x2 cut from 0.3 to 0.22: width 0.12 of 0.2): hit at 0.5 only.
  detections = _write(directory, 'det.csv',
                      'vid,12.250,0.100,0.100,0.220,0.300,1,0.9\n')
  label_map = _write(directory, 'label_map.pbtxt', LABEL_MAP)
  result = _run(['--metric=frame_ap', f'--groundtruth_csv={groundtruth}',
                 f'--detections_csv={detections}',
                 f'--label_map_path={label_map}',
                 '--iou_thresholds=0.5,0.75'], directory)
  assert result.returncode == 0, result.stderr
  assert result.stdout.splitlines()[1].split() == ['1', 'stand', '1', '1',
                                                   '100.00', '0.00']
  assert 'frame_ap mAP@0.5: 100.00%' in result.stdout


def test_video_ap_from_tubes_json(tmp_path):
  directory = str(tmp_path)
  full = [0.0, 0.0, 1.0, 1.0]
  groundtruth = os.path.join(directory, 'gt_tubes.json')
  detections = os.path.join(directory, 'tubes.json')
  video_ap.write_tubes_json(groundtruth, {
      'v1': [tube_linking.Tube(1, range(10), [full] * 10)]})
  # Frames 5..14: temporal IoU 5/15, same boxes: ST-IoU 1/3, a hit at 0.2
  # only: AP 1, 0, 0 at 0.2, 0.5, 0.75.
  video_ap.write_tubes_json(detections, {
      'v1': [tube_linking.Tube(1, range(5, 15), [full] * 10, [0.9] * 10)]})
  label_map = _write(directory, 'label_map.pbtxt', LABEL_MAP)
  result = _run(['--metric=video_ap', f'--label_map_path={label_map}',
                 f'--groundtruth_tubes_json={groundtruth}',
                 f'--detection_tubes_json={detections}'], directory)
  assert result.returncode == 0, result.stderr
  assert result.stdout.splitlines()[1].split() == [
      '1', 'stand', '1', '1', '100.00', '0.00', '0.00']
  assert 'video_ap mAP@0.5: 0.00%' in result.stdout
  assert 'video_ap mAP averaged over IoU 0.2,0.5,0.75: 33.33%' in (
      result.stdout)


def test_missing_file_and_bad_row_fail_clearly(tmp_path):
  directory = str(tmp_path)
  groundtruth, _, label_map, _ = _ava_files(directory)
  missing = os.path.join(directory, 'nope.csv')
  result = _run([f'--groundtruth_csv={groundtruth}',
                 f'--detections_csv={missing}',
                 f'--label_map_path={label_map}'], directory)
  assert result.returncode != 0
  assert f'--detections_csv: no such file: {missing}' in result.stderr
  bad = _write(directory, 'bad.csv',
               f'vid,0902,{BOX_A},1,0.9\nvid,0902,0.5\n')
  result = _run([f'--groundtruth_csv={groundtruth}',
                 f'--detections_csv={bad}',
                 f'--label_map_path={label_map}'], directory)
  assert result.returncode != 0
  assert f'{bad}:2: 3 columns, expected 2, 7 or 8' in result.stderr
  result = _run([f'--groundtruth_csv={groundtruth}'], directory)
  assert result.returncode != 0
  assert 'needs --detections_csv, --label_map_path' in result.stderr


def test_frame_ap_under_the_act_protocol(tmp_path):
  directory = str(tmp_path)
  # In a 240 x 320 frame: gt 1 on columns 0..99, gt 2 on 20..119 (rows
  # 0..99); two detections equal to gt 1. ACT: the second takes gt 2
  # (inclusive IoU 80 / 120): AP 1. VOC: a duplicate of gt 1: AP 1/2.
  def box(x1, x2):
    return f'{x1 / 320},0.0,{x2 / 320},{99 / 240}'
  groundtruth = _write(directory, 'gt.csv', f'vid,1.0,{box(0, 99)},1\n'
                       f'vid,1.0,{box(20, 119)},1\n')
  detections = _write(directory, 'det.csv', f'vid,1.0,{box(0, 99)},1,0.9\n'
                      f'vid,1.0,{box(0, 99)},1,0.8\n')
  label_map = _write(directory, 'label_map.pbtxt', LABEL_MAP)
  args = ['--metric=frame_ap', f'--groundtruth_csv={groundtruth}',
          f'--detections_csv={detections}', f'--label_map_path={label_map}']
  result = _run(args + ['--protocol=act', '--frame_size=240,320',
                        f'--output_dir={directory}/out'], directory)
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  # The mean is over both labels: talk has no groundtruth, AP 0.
  assert lines[1].split() == ['1', 'stand', '2', '2', '100.00']
  assert lines[2].split() == ['2', 'talk', '0', '0', '0.00']
  assert 'frame_ap_act mAP@0.5: 50.00%' in lines
  assert any(line.startswith('protocol: ACT (') for line in lines)
  with open(os.path.join(directory, 'out', 'metrics.json')) as f:
    saved = json.load(f)
  assert saved['metric'] == 'frame_ap_act'
  assert saved['protocol'].startswith('ACT (')
  result = _run(args, directory)
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  assert lines[1].split() == ['1', 'stand', '2', '2', '50.00']
  assert 'frame_ap mAP@0.5: 50.00%' in lines
  assert any(line.startswith('protocol: PASCAL VOC') for line in lines)
  result = _run(args + ['--protocol=act'], directory)
  assert result.returncode != 0
  assert '--protocol act needs --frame_size HEIGHT,WIDTH' in result.stderr


def test_video_ap_under_the_act_protocol(tmp_path):
  directory = str(tmp_path)
  full = [0.0, 0.0, 1.0, 1.0]
  groundtruth = os.path.join(directory, 'gt_tubes.json')
  detections = os.path.join(directory, 'tubes.json')
  video_ap.write_tubes_json(groundtruth, {
      'v1': [tube_linking.Tube(1, range(10), [full] * 10)]})
  # Frames 0..9 (on the gt, 0.9) and 0..3 (0.95): their ST-IoU is 0.4, so
  # NMS at 0.3 keeps the 0.95 one alone, whose ST-IoU with the gt is 0.4:
  # a hit at 0.2 only. Without NMS (VOC) the 0.9 tube hits at every
  # threshold after the 0.95 miss: AP 1/2 at 0.5.
  video_ap.write_tubes_json(detections, {'v1': [
      tube_linking.Tube(1, range(10), [full] * 10, [0.9] * 10),
      tube_linking.Tube(1, range(4), [full] * 4, [0.95] * 4)]})
  label_map = _write(directory, 'label_map.pbtxt', LABEL_MAP)
  args = ['--metric=video_ap', f'--label_map_path={label_map}',
          f'--groundtruth_tubes_json={groundtruth}',
          f'--detection_tubes_json={detections}']
  result = _run(args + ['--protocol=act', '--frame_size=240,320'],
                directory)
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  # stand: AP 1, 0, 0; talk (no groundtruth) 0: means 1/2, 0, 0.
  assert lines[1].split() == ['1', 'stand', '1', '1', '100.00', '0.00',
                              '0.00']
  assert 'video_ap_act mAP@0.5: 0.00%' in lines
  assert 'video_ap_act mAP averaged over IoU 0.2,0.5,0.75: 16.67%' in lines
  assert ('video_ap_act mAP@0.5:0.95 (mean over 0.5 + 0.05 i, i = 0..9): '
          '0.00%') in lines
  result = _run(args, directory)
  assert result.returncode == 0, result.stderr
  assert 'video_ap mAP@0.5: 50.00%' in result.stdout.splitlines()
