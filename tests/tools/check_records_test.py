"""check_records: the CLI on tiny records, a matching and a tampered csv.

The tool's run/_main are called in this process (absl flags parsed from a
list, reset afterwards).
"""

from absl import app
from absl import flags
import pytest

from tests.data.input import sequence_example_fixtures as sx
from tests.tools import tool_import

_FLAGS = flags.FLAGS


def _csv_lines():
  """AVA rows of the fixture records (example k: video_k at 900 + k s)."""
  lines = []
  for k in range(6):
    num_boxes = 1 + k % 3
    for box, labels, track_id in zip(sx.BOXES[:num_boxes],
                                     sx.LABELS[:num_boxes],
                                     sx.TRACK_IDS[:num_boxes]):
      ymin, xmin, ymax, xmax = box
      lines.extend(f'video_{k},{900 + k},{xmin},{ymin},{xmax},{ymax},{label},'
                   f'{track_id}\n' for label in labels)
  return lines


@pytest.fixture(name='dataset')
def _dataset(tmp_path):
  pattern = sx.write_records(str(tmp_path / 'records'))
  label_map = tmp_path / 'label_map.pbtxt'
  label_map.write_text(''.join(f'item {{ name: "a{i}" id: {i} }}\n'
                               for i in sx.LABEL_IDS))
  config = tmp_path / 'pipeline.config'
  config.write_text(
      'train_input_reader {\n'
      f'  label_map_path: "{label_map}"\n'
      f'  tf_record_input_reader {{ input_path: "{pattern}" }}\n'
      '  frames_per_clip: 4\n  image_height: 32\n  image_width: 32\n'
      '  shuffle: true\n  augmentation { random_horizontal_flip: true }\n'
      '}\n')
  csv_path = tmp_path / 'train.csv'
  csv_path.write_text(''.join(_csv_lines()))
  return dict(config=str(config), pattern=pattern, label_map=str(label_map),
              csv=str(csv_path), tmp_path=tmp_path)


@pytest.fixture(name='main')
def _main():
  tool = tool_import.fresh('check_records')

  def main(args):
    _FLAGS.unparse_flags()  # flags of an earlier call go back to defaults
    _FLAGS(['check_records'] + args)
    return tool._main(['check_records'])  # pylint: disable=protected-access
  yield main
  _FLAGS.unparse_flags()


def test_matching_records_exit_zero(dataset, main, capsys):
  code = main([f'--pipeline_config_path={dataset["config"]}',
               f'--annotation_csv={dataset["csv"]}'])
  out = capsys.readouterr().out
  assert code == 0, out
  assert ('Read 6 examples; the csv expects 6 keyframes (0 excluded); '
          'checked 12 boxes.') in out
  assert 'OK: every example matches the csv.' in out


def test_tampered_csv_exits_one_and_lists_it(dataset, main, capsys):
  lines = _csv_lines()
  # video_2's third box (labels 1, 2, 6): its label-6 row says 1 instead.
  lines = [l.replace('video_2,902,0.0,0.0,0.25,0.25,6,9',
                     'video_2,902,0.0,0.0,0.25,0.25,1,9') for l in lines]
  # video_4's box moved down by 0.1.
  lines = [l.replace('video_4,904,0.5,0.3,0.75,0.9',
                     'video_4,904,0.5,0.4,0.75,1.0') for l in lines]
  tampered = dataset['tmp_path'] / 'tampered.csv'
  tampered.write_text(''.join(lines))
  code = main([f'--input_path={dataset["pattern"]}',
               f'--label_map_path={dataset["label_map"]}',
               f'--annotation_csv={tampered}'])
  out = capsys.readouterr().out
  assert code == 1
  assert '2 mismatches:' in out
  assert ('video_2 @ 902: labels differ: csv box [0.0000, 0.0000, 0.2500, '
          '0.2500] (person 9): labels [1, 2] in the csv, [1, 2, 6] in the '
          'record') in out
  assert ('video_4 @ 904: box differs: csv box [0.4000, 0.5000, 1.0000, '
          '0.7500] (person 8): the closest record box [0.3000, 0.5000, '
          '0.9000, 0.7500] differs by 0.1000') in out


def test_refused_arguments(dataset, main, capsys):
  with pytest.raises(app.UsageError, match='--pipeline_config_path or '
                     '--input_path'):
    main([f'--annotation_csv={dataset["csv"]}'])
  with pytest.raises(app.UsageError, match='--label_map_path is required'):
    main([f'--annotation_csv={dataset["csv"]}',
          f'--input_path={dataset["pattern"]}'])
  assert main([f'--pipeline_config_path={dataset["config"]}',
               '--input_reader=eval',
               f'--annotation_csv={dataset["csv"]}']) == 1
  assert 'pipeline.config: no eval_input_reader' in capsys.readouterr().err
