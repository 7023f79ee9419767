"""Writes a performance report: console text, JSON, markdown and PNG charts.

The report is a plain JSON-able dict (the content of `performance.json`):

  command: the command line that produced it.
  date: ISO 8601 time the run started.
  wall_seconds: the run's duration.
  machine: `machine.MachineInfo` as a dict.
  options: the run's settings.
  sections: ordered dict name -> section, each with
    title: heading;
    status: STATUS_OK, STATUS_NOT_AVAILABLE, STATUS_FAILED;
    reason: why it is not OK (None if it is);
    notes: sentences saying what was measured and how;
    table: {'columns': [...], 'rows': [[...], ...]} of display strings;
    chart: optional {'title', 'unit', 'labels', 'values'} bar chart;
    data: the raw numbers.

Sections build their own tables; this module only lays them out, so a new
benchmark adds a section without touching the writer.
"""

import json
import os
from typing import Dict, List, Mapping, Optional, Sequence

from acrn_tf.evaluation import reporting

STATUS_OK = 'ok'
STATUS_NOT_AVAILABLE = 'not available'
STATUS_FAILED = 'failed'

PERFORMANCE_JSON = 'performance.json'
PERFORMANCE_MD = 'performance.md'
# A chart whose largest bar is this many times its smallest uses a log axis.
_LOG_SCALE_RATIO = 30.0
# A 1-minute load above this many processes per core means a shared CPU.
_BUSY_LOAD_PER_CORE = 0.5


class ReportError(ValueError):
  """The report dict lacks a field the writer needs."""


def section(title: str, status: str = STATUS_OK,
            reason: Optional[str] = None,
            notes: Sequence[str] = (),
            columns: Sequence[str] = (),
            rows: Sequence[Sequence[str]] = (),
            chart: Optional[Mapping] = None,
            data: Optional[Mapping] = None) -> Dict:
  """A section dict in the layout the module docstring describes."""
  return {
      'title': title, 'status': status, 'reason': reason,
      'notes': list(notes),
      'table': {'columns': list(columns), 'rows': [list(r) for r in rows]},
      'chart': dict(chart) if chart else None,
      'data': dict(data or {}),
  }


def bar_chart(title: str, unit: str, labels: Sequence[str],
              values: Sequence[Optional[float]]) -> Dict:
  """A chart entry; bars with a None value are left out."""
  kept = [(l, float(v)) for l, v in zip(labels, values) if v is not None]
  return {'title': title, 'unit': unit, 'labels': [k[0] for k in kept],
          'values': [k[1] for k in kept]}


def _check(report: Mapping) -> None:
  for key in ('command', 'date', 'machine', 'sections'):
    if key not in report:
      raise ReportError(f'performance report: missing field {key!r}')
  for name, entry in report['sections'].items():
    for key in ('title', 'status', 'table'):
      if key not in entry:
        raise ReportError(f'performance report: section {name!r} has no '
                          f'{key!r}')


def format_table(columns: Sequence[str], rows: Sequence[Sequence[str]],
                 markdown: bool = False) -> str:
  """Lays out a table as aligned text or as a markdown table."""
  columns = [str(c) for c in columns]
  rows = [[str(c) for c in r] for r in rows]
  if markdown:
    lines = ['| ' + ' | '.join(columns) + ' |',
             '|' + '|'.join('---' for _ in columns) + '|']
    lines += ['| ' + ' | '.join(r) + ' |' for r in rows]
    return '\n'.join(lines)
  widths = [len(c) for c in columns]
  for r in rows:
    for i, cell in enumerate(r):
      widths[i] = max(widths[i], len(cell))

  def line(cells):
    return '  '.join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

  out = [line(columns), line(['-' * w for w in widths])]
  out += [line(r) for r in rows]
  return '\n'.join(out)


def _machine_lines(machine: Mapping) -> List[str]:
  onednn = machine.get('onednn_enabled')
  onednn_text = {True: 'on', False: 'off'}.get(onednn, 'unknown')
  env = machine.get('onednn_env')
  if env is not None:
    onednn_text += f' (TF_ENABLE_ONEDNN_OPTS={env})'
  mhz = machine.get('cpu_mhz')
  return [
      f'CPU: {machine.get("cpu_model")}'
      + (f' at {mhz:.0f} MHz' if mhz else '')
      + (f', flags {" ".join(machine.get("cpu_flags") or [])}'
         if machine.get('cpu_flags') else ''),
      f'Cores: {machine.get("usable_cores")} usable of '
      f'{machine.get("logical_cores")} logical'
      + (', load average {:.2f} / {:.2f} / {:.2f} (1 / 5 / 15 min) at the '
         'start'.format(*machine['load_average'])
         if machine.get('load_average') else ''),
      f'TensorFlow {machine.get("tensorflow_version")}, oneDNN {onednn_text}, '
      f'XLA built: {machine.get("xla_built")}, GPUs: '
      f'{", ".join(machine.get("gpus") or []) or "none"}',
      f'Python {machine.get("python_version")} on {machine.get("platform")}',
  ]


def _load_lines(report: Mapping) -> List[str]:
  """The load at the end, and a caution when the CPUs were shared."""
  lines = []
  end = report.get('load_average_end')
  if end:
    lines.append('Load average {:.2f} / {:.2f} / {:.2f} at the end'.format(
        *end))
  machine = report['machine']
  cores = machine.get('usable_cores') or 1
  loads = [l[0] for l in (machine.get('load_average'), end) if l]
  if loads and max(loads) > _BUSY_LOAD_PER_CORE * cores:
    lines.append(
        f'Caution: other processes shared the {cores} cores (1-minute load '
        f'up to {max(loads):.2f}); times are slower and noisier than on an '
        'idle machine, and ratios measured in the same run are the more '
        'reliable figures.')
  return lines


def format_console(report: Mapping) -> str:
  """The whole report as plain text for a terminal."""
  _check(report)
  parts = [f'Performance report, {report["date"]}',
           *_machine_lines(report['machine']), *_load_lines(report), '']
  for entry in report['sections'].values():
    parts.append(f'== {entry["title"]} ==')
    if entry['status'] != STATUS_OK:
      parts.append(f'{entry["status"]}: {entry.get("reason") or ""}'.rstrip())
    table = entry['table']
    if table['rows']:
      parts.append(format_table(table['columns'], table['rows']))
    parts.extend(f'* {note}' for note in entry.get('notes') or [])
    parts.append('')
  return '\n'.join(parts).rstrip() + '\n'


def format_markdown(report: Mapping,
                    chart_files: Optional[Mapping[str, str]] = None) -> str:
  """The report as a markdown page (command, date, machine, sections)."""
  _check(report)
  chart_files = chart_files or {}
  lines = ['# Performance', '',
           f'Measured on {report["date"]} with:', '', '```',
           report['command'], '```', '']
  if report.get('wall_seconds') is not None:
    lines += [f'The run took {report["wall_seconds"]:.0f} s.', '']
  lines += ['## Machine', '']
  lines += [f'- {line}' for line in _machine_lines(report['machine'])]
  lines += [f'- {line}' for line in _load_lines(report)]
  lines.append('')
  options = report.get('options')
  if options:
    lines += ['## Settings', '']
    lines += [f'- `{k}`: {v}' for k, v in options.items()]
    lines.append('')
  for name, entry in report['sections'].items():
    lines += [f'## {entry["title"]}', '']
    if entry['status'] != STATUS_OK:
      lines += [f'**{entry["status"]}**: {entry.get("reason") or ""}'.rstrip(),
                '']
    table = entry['table']
    if table['rows']:
      lines += [format_table(table['columns'], table['rows'], markdown=True),
                '']
    for note in entry.get('notes') or []:
      lines.append(f'- {note}')
    if entry.get('notes'):
      lines.append('')
    if name in chart_files:
      lines += [f'![{entry["title"]}]({chart_files[name]})', '']
  return '\n'.join(lines).rstrip() + '\n'


def plot_bar_chart(path: str, chart: Mapping) -> None:
  """Writes a horizontal bar chart PNG with each bar's value printed."""
  # A bare Figure renders with Agg and leaves pyplot's backend alone.
  from matplotlib import figure  # pylint: disable=g-import-not-at-top

  labels = list(chart['labels'])
  values = list(chart['values'])
  if not labels:
    raise ReportError(f'chart {chart.get("title")!r} has no bars')
  canvas = figure.Figure(figsize=(8, 1.2 + 0.45 * len(labels)))
  axes = canvas.add_subplot(1, 1, 1)
  positions = list(range(len(labels)))[::-1]
  axes.barh(positions, values, color='#4878a8')
  axes.set_yticks(positions)
  axes.set_yticklabels(labels, fontsize=8)
  top = max(values)
  smallest = min(values)
  # Bars spanning orders of magnitude (tiny and paper-size models) would
  # vanish on a linear axis.
  log_scale = smallest > 0 and top / smallest > _LOG_SCALE_RATIO
  title = chart['title'] + (' (log scale)' if log_scale else '')
  axes.set_xlabel(chart['unit'])
  axes.set_title(title, fontsize=10)
  for position, value in zip(positions, values):
    x = value * 1.05 if log_scale else value + 0.01 * top
    axes.text(x, position, f'{value:.4g}', va='center', fontsize=7)
  if log_scale:
    axes.set_xscale('log')
    axes.set_xlim(smallest / 2, top * 3)
  else:
    axes.set_xlim(0, top * 1.15 if top > 0 else 1.0)
  canvas.tight_layout()
  with reporting.atomic_output(path) as temporary:
    canvas.savefig(temporary, format='png', dpi=110)


def _write_text(path: str, text: str) -> None:
  with reporting.atomic_output(path) as temporary:
    with open(temporary, 'w', encoding='utf-8') as f:
      f.write(text)


def write_report(output_dir: str, report: Mapping) -> Dict[str, str]:
  """Writes performance.json, performance.md and one PNG per chart.

  Args:
    output_dir: created if missing.
    report: the report dict.

  Returns:
    dict name -> path written ('json', 'markdown', and each charted
    section's name).
  """
  _check(report)
  os.makedirs(output_dir, exist_ok=True)
  paths = {}
  chart_files = {}
  for name, entry in report['sections'].items():
    chart = entry.get('chart')
    if entry['status'] == STATUS_OK and chart and chart.get('labels'):
      filename = f'{name}.png'
      plot_bar_chart(os.path.join(output_dir, filename), chart)
      chart_files[name] = filename
      paths[name] = os.path.join(output_dir, filename)
  paths['json'] = os.path.join(output_dir, PERFORMANCE_JSON)
  _write_text(paths['json'], json.dumps(report, indent=2, sort_keys=False)
              + '\n')
  paths['markdown'] = os.path.join(output_dir, PERFORMANCE_MD)
  _write_text(paths['markdown'], format_markdown(report, chart_files))
  return paths
