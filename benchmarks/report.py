"""The benchmark's results as markdown tables (what ``benchmarks/RESULTS.md`` holds)."""
from typing import List, Sequence

PEERS = ('mmdet', 'mmseg', 'mmpretrain')
SAME_GROUPS = 'floor (same groups)'


def _table(header: Sequence[str], rows: List[Sequence[str]]) -> List[str]:
    align = ['---' if index == 0 else '---:' for index in range(len(header))]
    return ['| ' + ' | '.join(row) + ' |' for row in [header, align, *rows]]


def _ms(value: float) -> str:
    return f'{value:.1f}' if value >= 100 else f'{value:.2f}'


def _x(value: float) -> str:
    return f'{value:.2f}x'


def _construction_rows(construction: dict) -> List[List[str]]:
    rows = []
    for model, result in construction.items():
        for name, entry in result['candidates'].items():
            if entry['status'] != 'ok':
                reason = entry['error'].split(':')[0]
                rows.append([model, name, f'refuses ({reason})'] + ['-'] * 7)
                continue
            log = entry['log']
            rows.append([model, name, _ms(entry['median_ms']), _x(entry['x_floor']),
                         str(entry['groups']), str(entry.get('max_groups_per_layer_id', '-')),
                         str(log['records']), str(log['lines']), f"{log['bytes'] / 1024:.1f}",
                         str(log['printed_lines'])])
    return rows


def _peer_rows(construction: dict) -> List[List[str]]:
    rows = []
    for model, result in construction.items():
        for name, entry in result['candidates'].items():
            if entry['role'] != 'ours' or entry['status'] != 'ok':
                continue
            vs = entry['vs_peers']
            rows.append([model, name, _x(entry['x_floor']), _x(entry['x_same_groups'])]
                        + [_x(vs[peer]) if peer in vs else 'refuses' for peer in PEERS])
    return rows


def _breakdown_rows(construction: dict) -> List[List[str]]:
    rows = []
    for model, result in construction.items():
        split = result['breakdown']
        ms = split['median_ms']
        rows.append([model, split['candidate'], str(split['groups']),
                     _ms(ms['build_optim_wrapper']), _ms(ms['add_params']), _ms(ms['report']),
                     _ms(ms['adamw_on_groups']), _ms(ms['floor'])])
    return rows


def _step_rows(step: dict) -> List[List[str]]:
    rows = []
    for model, result in step.items():
        label = f"{model} ({result['params'] / 1e6:.0f}M params, {result['tensors']} tensors)"
        for variant, entry in result['variants'].items():
            rows.append([label, variant, f"{entry['groups_ours']} / {entry['groups_baseline']}",
                         _ms(entry['baseline_ms']), _ms(entry['ours_ms']), _x(entry['ratio'])])
    return rows


def _memory_rows(memory: dict) -> List[List[str]]:
    return [[name, str(entry['groups']), f"{entry['rss_after_imports_mib']:.0f}",
             f"{entry['model_build_peak_mib']:.1f}", f"{entry['groups_build_peak_mib']:.1f}",
             f"{entry['groups_retained_mib']:.1f}", f"{entry['python_heap_peak_mib']:.1f}",
             f"{entry['process_peak_rss_mib']:.0f}"]
            for name, entry in memory.items()]


def _target_rows(targets: dict) -> List[List[str]]:
    described = {
        'ours_within_2x_floor': 'ours within 2x of the floor on every model (median ratio)',
        'ours_within_2x_same_groups': 'ours within 2x of the floor handed the same groups '
                                      '(proposed: what the grouping itself costs)',
        'groups_per_layer_id': 'at most 2 groups per layer id (no lr_mult / decay_mult in use)',
        'one_log_record': 'one log record at INFO',
    }
    rows = []
    for key, text in described.items():
        target = targets[key]
        worst = target.get('worst', target.get('records'))
        worst = _x(worst) if key.startswith('ours_within') else str(worst)
        rows.append([text, 'yes' if target['holds'] else '**no**', worst])
    return rows


def markdown_report(results: dict) -> str:
    machine = results['machine']
    settings = results['settings']
    versions = ', '.join(f'{name} {version}' for name, version in machine['versions'].items())
    lines = [
        '# Layer-decay constructor benchmarks', '',
        f"Command: `{results['command']}`" + (' (quick mode: not a measurement)'
                                              if results['quick'] else ''), '',
        f"Machine: {machine['cpu_model']}, nproc {machine['nproc']}, torch threads "
        f"{machine['torch_threads']}, load average {machine['load_average']} before and "
        f"{results['load_average_after']} after; {machine['platform']}, Python "
        f"{machine['python']}; {versions}. The full run took {results['elapsed_s']:.0f} s.", '',
        '## Construction', '',
        f"`build_optim_wrapper` on models whose parameters are on the `meta` device, AdamW. "
        f"Median over {settings['construction_rounds']} rounds (after "
        f"{settings['construction_warmup']} warm-up rounds); every round builds with every "
        'candidate once, in rotating order, and ratios are taken round by round, then the median. '
        '`floor` is MMEngine\'s `DefaultOptimWrapperConstructor` without `paramwise_cfg` (one '
        f'group); `{SAME_GROUPS}` is the same constructor handed the finished groups ours '
        'builds, so it costs what MMEngine and `torch.optim.AdamW` take for that many groups '
        '(torch\'s `add_param_group` checks every new group against all earlier ones) with no '
        'grouping work. Log '
        'columns count what reaches MMLogger at INFO or above; "printed lines" what goes to stdout '
        'through `print` (mmseg calls `print_log` without a logger). Console and stdout go to '
        '`/dev/null` while timing, so the messages are still formatted and written.',
        '',
        *_table(['model', 'candidate', 'median ms', 'x floor', 'groups', 'max groups / layer id',
                 'INFO records', 'INFO lines', 'INFO KiB', 'printed lines'],
                _construction_rows(results['construction'])),
        '',
        'Ours relative to each peer (median per-round ratio ours / peer; below 1 is faster):', '',
        *_table(['model', 'ours', 'x floor', 'x floor (same groups)',
                 *(f'/ {peer}' for peer in PEERS)],
                _peer_rows(results['construction'])),
        '',
        'Where our time goes (medians, ms, interleaved as above): the whole `build_optim_wrapper`; '
        'our `add_params` (layer ids, groups and the report); the report alone '
        '(`mmcv_custom.layer_decay._report.log_param_groups`); `torch.optim.AdamW` built on our '
        'finished groups (torch\'s `add_param_group` checks every new group against all earlier '
        'ones); the floor.', '',
        *_table(['model', 'ours', 'groups', 'build_optim_wrapper', 'add_params', 'report',
                 'AdamW(our groups)', 'floor'], _breakdown_rows(results['construction'])),
        '',
        'Models: ' + '; '.join(f"`{name}`: {result['description']}, {result['tensors']} tensors, "
                               f"{result['params'] / 1e6:,.0f}M parameters"
                               for name, result in results['construction'].items()) + '. '
        + 'Built on `meta`: ' + next(iter(results['construction'].values()))['build']
        + ', so that mmpretrain\'s ConvNeXt and mmseg\'s BEiT, which fail under '
        '`with torch.device(\'meta\')`, build too (see `benchmarks/models.py`).', '',
        '## Optimizer step', '',
        f"`torch.optim.AdamW` on CPU, one `step()` with fixed random gradients: our groups "
        '(`CustomLayerDecayOptimizerConstructor`) vs the two groups decay / no-decay. Median of '
        f"{settings['step_rounds']} interleaved steps after {settings['step_warmup']} warm-up. "
        '`default` is the per-tensor loop (torch does not default to foreach on CPU).', '',
        *_table(['model', 'AdamW', 'groups (ours / baseline)', 'baseline ms', 'ours ms',
                 'ours / baseline'], _step_rows(results['optimizer_step'])),
        '',
        '## Memory', '',
        'Building the InternViT-6B model\'s groups on `meta`, each candidate in a fresh process. '
        'Peaks are the RSS high-water mark over the RSS just before the step (reset through '
        '`/proc/self/clear_refs`); "retained" is what stays resident while the wrapper lives; the '
        'Python heap peak (tracemalloc) is of a second build in the same process. MiB.', '',
        *_table(['candidate', 'groups', 'RSS after imports', 'model build peak',
                 'groups build peak', 'retained', 'Python heap peak', 'process peak RSS'],
                _memory_rows(results['memory'])),
        '',
        '## Targets (issue 7)', '',
        *_table(['target', 'holds', 'worst'], _target_rows(results['targets'])),
        '',
    ]
    return '\n'.join(lines)
