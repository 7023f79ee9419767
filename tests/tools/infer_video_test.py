"""infer_video: the CLI in-process on a tiny hand-made export.

The export returns fixed detections (inference_fixtures): 2 boxes with
scores for 6 classes on every clip of 8 frames, so the csv rows, the tubes
and the rendered video are known in advance. run(argv) is called in this
process (absl flags parsed from a list, reset afterwards).
"""

import json
import os

from absl import app
from absl import flags
import cv2
import pytest

from acrn_tf.inference import video_inference
from tests.inference import inference_fixtures as fx
from tests.tools import tool_import

_FLAGS = flags.FLAGS


@pytest.fixture(scope='module')
def export_dir(tmp_path_factory):
  return fx.write_export(str(tmp_path_factory.mktemp('export')))


@pytest.fixture(scope='module')
def video(tmp_path_factory):
  return fx.write_video(str(tmp_path_factory.mktemp('videos') / 'ball.avi'))


@pytest.fixture(name='run_tool')
def _run_tool():
  tool = tool_import.fresh('infer_video')

  def run(args, main=False):
    _FLAGS.unparse_flags()  # flags of an earlier call go back to defaults
    argv = ['infer_video']
    _FLAGS(argv + args)
    # pylint: disable-next=protected-access
    return tool._main(argv) if main else tool.run(argv)
  yield run
  _FLAGS.unparse_flags()


def _read_back_frame_count(path, shape=None):
  """Frames in the video at `path`; each must have `shape` if given."""
  capture = cv2.VideoCapture(path)
  assert capture.isOpened()
  count = 0
  while True:
    ok, frame = capture.read()
    if not ok:
      break
    assert shape is None or frame.shape == shape, frame.shape
    count += 1
  capture.release()
  return count


def test_saved_model_end_to_end(run_tool, export_dir, video, tmp_path,
                                capsys):
  out = tmp_path / 'out'
  summary = run_tool([f'--video={video}', f'--saved_model_dir={export_dir}',
                      f'--output_dir={out}', '--keyframe_every=10',
                      f'--heatmap_frames_dir={tmp_path / "pngs"}'])
  assert summary.keyframes == 3
  assert sorted(os.listdir(out)) == ['detections.csv', 'rendered.mp4',
                                     'tubes.json']
  with open(out / 'detections.csv', encoding='utf-8') as f:
    rows = f.read().splitlines()
  # 2 boxes x 6 classes per keyframe, by descending score.
  assert len(rows) == 36
  assert rows[:3] == ['ball,0000,0.200,0.100,0.600,0.500,1,0.899999976',
                      'ball,0000,0.100,0.300,0.400,0.900,6,0.699999988',
                      'ball,0000,0.200,0.100,0.600,0.500,3,0.600000024']
  assert [row.split(',')[1] for row in rows[::12]] == ['0000', '0001',
                                                       '0002']
  with open(out / 'tubes.json', encoding='utf-8') as f:
    tubes = json.load(f)
  # Classes scoring >= 0.01 link into one tube per box over the 3 keyframes
  # (the two boxes overlap with IoU 0.13 < 0.2: never linked together).
  assert [(t['label'], round(t['score'], 2)) for t in tubes] == [
      ('catch', 0.9), ('idle', 0.7), ('pass', 0.6), ('catch', 0.1),
      ('throw', 0.05)]
  assert all([f['frame'] for f in t['frames']] == [0, 10, 20] for t in tubes)
  # 48 x 64 frames enlarged to the default shorter side of 360, and beside
  # them 2 x 2 heat-map panels of 180 x 240 (the export gives heat maps).
  assert _read_back_frame_count(str(out / 'rendered.mp4'),
                                shape=(360, 960, 3)) == fx.NUM_FRAMES
  assert sorted(os.listdir(tmp_path / 'pngs')) == [
      'ball_000000.png', 'ball_000010.png', 'ball_000020.png']
  captured = capsys.readouterr()
  assert 'keyframes 3/3 (100%)' in captured.err
  assert 'ball: 3 keyframes, 6 detections, 5 tubes' in captured.out


def test_max_frames_and_video_id(run_tool, export_dir, video, tmp_path):
  out = tmp_path / 'out'
  summary = run_tool([f'--video={video}', f'--saved_model_dir={export_dir}',
                      f'--output_dir={out}', '--keyframes_per_second=5',
                      '--start=0.5', '--max_frames=10', '--video_id=v1'])
  # Frames 5..14, a keyframe every 2 frames.
  assert summary.keyframes == 5
  assert _read_back_frame_count(str(out / 'rendered.mp4')) == 10
  with open(out / 'detections.csv', encoding='utf-8') as f:
    assert f.readline().startswith('v1,0000.500,')


@pytest.mark.parametrize('args, message', [
    ([], 'either as --saved_model_dir or as --pipeline_config_path'),
    (['--saved_model_dir=x', '--checkpoint=y'], 'either as'),
    (['--pipeline_config_path=x'], 'go together'),
])
def test_model_flags_are_checked(run_tool, video, tmp_path, args, message):
  with pytest.raises(app.UsageError, match=message):
    run_tool([f'--video={video}', f'--output_dir={tmp_path}'] + args)


def test_keyframe_flags_are_exclusive(run_tool, export_dir, video, tmp_path):
  with pytest.raises(app.UsageError, match='at most one of'):
    run_tool([f'--video={video}', f'--saved_model_dir={export_dir}',
              f'--output_dir={tmp_path}', '--keyframe_every=4',
              '--keyframes_per_second=1'])
  with pytest.raises(app.UsageError, match='at most one of --keyframe_every, '
                     '--keyframes_per_second and --keyframes_csv'):
    run_tool([f'--video={video}', f'--saved_model_dir={export_dir}',
              f'--output_dir={tmp_path}', '--keyframes_per_second=1',
              f'--keyframes_csv={tmp_path / "gt.csv"}'])


def test_keyframes_csv_restricts_to_the_annotated_keyframes(
    run_tool, export_dir, video, tmp_path, capsys):
  gt = tmp_path / 'gt.csv'
  gt.write_text('ball,0001,0.1,0.1,0.5,0.5,1,0\nball,0002,0.1,0.1,0.5,0.5,2,0\n'
                'other,0000,0.1,0.1,0.5,0.5,2,0\n', encoding='utf-8')
  out = tmp_path / 'out'
  summary = run_tool([f'--video={video}', f'--saved_model_dir={export_dir}',
                      f'--output_dir={out}', f'--keyframes_csv={gt}'])
  assert summary.keyframes == 2
  with open(out / 'detections.csv', encoding='utf-8') as f:
    stamps = sorted({row.split(',')[1] for row in f.read().splitlines()})
  assert stamps == ['0001', '0002']  # not 0000, which only `other` has
  capsys.readouterr()  # the progress lines
  # A csv without the video: one line, status 1, before the model loads.
  status = run_tool([f'--video={video}', f'--saved_model_dir={export_dir}',
                     f'--output_dir={out}', f'--keyframes_csv={gt}',
                     '--video_id=nobody'], main=True)
  assert status == 1
  assert _error_line(capsys) == (
      f"error: {gt}: no row of video 'nobody' (it names 'ball', 'other'); "
      'the video id is the file name without extension unless given')


def test_help_names_the_workspace_paths_of_readme():
  tool = tool_import.fresh('infer_video')
  text = tool.__doc__ + ''.join(
      flag.help for flag in _FLAGS.flags_by_module_dict()['tools.infer_video'])
  for path in ('workspace/exported/', 'workspace/models/'):
    assert path in text
  for stale in ('workspace/exports/', 'workspace/model_dir/'):
    assert stale not in text


def _error_line(capsys):
  err = capsys.readouterr().err
  lines = err.strip().splitlines()
  assert len(lines) == 1 and 'Traceback' not in err, err
  return lines[0]


def test_bad_input_exits_1_with_one_line(run_tool, export_dir, tmp_path,
                                         capsys):
  out = f'--output_dir={tmp_path / "out"}'
  model = f'--saved_model_dir={export_dir}'
  missing = tmp_path / 'missing.mp4'
  assert run_tool([f'--video={missing}', model, out], main=True) == 1
  assert _error_line(capsys) == f'error: {missing}: no such video file'

  garbage = tmp_path / 'garbage.mp4'
  garbage.write_bytes(b'\x00' * 100)
  assert run_tool([f'--video={garbage}', model, out], main=True) == 1
  assert _error_line(capsys) == (f'error: {garbage}: OpenCV cannot open this '
                                 'video')

  short = fx.write_video(str(tmp_path / 'short.avi'), num_frames=6)
  assert run_tool([f'--video={short}', model, out], main=True) == 1
  assert _error_line(capsys) == (
      f'error: {short}: the video has 6 frames, fewer than the 8 frames one '
      'clip spans (8 frames at stride 1)')

  no_signature = fx.write_export(str(tmp_path / 'bare'), signature=False)
  assert run_tool([f'--video={short}', f'--saved_model_dir={no_signature}',
                   out], main=True) == 1
  assert _error_line(capsys) == (
      f'error: {no_signature}/saved_model: the SavedModel has no '
      "'serving_default' signature (signatures: none)")

  empty = tmp_path / 'empty'
  empty.mkdir()
  assert run_tool([f'--video={short}', f'--saved_model_dir={empty}', out],
                  main=True) == 1
  assert _error_line(capsys).startswith(
      f'error: {empty}: no SavedModel in {empty}/saved_model')
  assert not (tmp_path / 'out').exists()


def test_format_progress():
  tool = tool_import.fresh('infer_video')
  line = tool.format_progress(video_inference.InferenceProgress(3, 12, 65.0))
  assert line == 'keyframes 3/12 (25%), 1:05 elapsed, 3:15 left'
