"""Benchmark mmcv_custom's layer-decay constructors against MMEngine's floor and the peers.

Three measurements, in one run:

* construction: ``build_optim_wrapper`` on large models built on the ``meta`` device, ours vs
  ``DefaultOptimWrapperConstructor`` without ``paramwise_cfg`` (the floor), the same constructor
  handed our finished groups (the floor for that many groups) and mmdet's, mmseg's and
  mmpretrain's layer-decay classes where they accept the model; median ms, per-round ratios,
  groups, log records/lines/bytes at INFO;
* optimizer step: ``torch.optim.AdamW`` (default, foreach, fused) stepping our groups vs the
  two-group decay / no-decay baseline, on CPU;
* memory: the peak RSS of building the InternViT-6B groups on ``meta``, each in a fresh process.

Usage (``make bench``)::

    python benchmarks/bench_layer_decay.py --out work_dirs/bench/results.json \
        --markdown work_dirs/bench/RESULTS.md
    python benchmarks/bench_layer_decay.py --quick --out /tmp/bench.json   # seconds, for tests
"""
import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import torch

# mmcv_custom first: with transformers installed, mmpretrain's models import only after it
# (mmcv_custom.compat.mmpretrain_multimodal); it also registers our constructors.
import mmcv_custom  # noqa: F401
from mmdet.engine.optimizers.layer_decay_optimizer_constructor import \
    LearningRateDecayOptimizerConstructor as MMDetLearningRateDecay
from mmengine.logging import MMLogger
from mmengine.optim import DefaultOptimWrapperConstructor, build_optim_wrapper
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS
from mmpretrain.engine.optimizers import LearningRateDecayOptimWrapperConstructor
from mmseg.engine.optimizers.layer_decay_optimizer_constructor import \
    LearningRateDecayOptimizerConstructor as MMSegLearningRateDecay
from torch import nn

from mmcv_custom.layer_decay._report import log_param_groups
from harness import (counting_logs, counting_prints, interleaved_ms, machine_facts, median,
                     median_ratio, peak_rss_mib, reset_peak_rss, rss_mib, silenced_console)
from models import CONSTRUCTION_MODELS, build_on_cpu, build_on_meta, internvit_6b_seg
from report import SAME_GROUPS, markdown_report

BASE_LR = 1e-4
WEIGHT_DECAY = 0.05
#: The targets of issue 7 for our constructors.
FLOOR_RATIO_LIMIT = 2.0
GROUPS_PER_LAYER_ID_LIMIT = 2
LOG_RECORDS_LIMIT = 1


@dataclass(frozen=True)
class Candidate:
    """One way to build the optimizer wrapper."""

    name: str
    role: str  # 'floor', 'ours' or 'peer'
    constructor: object  # a registry name or a class (the peers' classes, by object)
    paramwise_cfg: Optional[dict]

    def config(self, **optimizer_options) -> dict:
        optimizer = dict(type='AdamW', lr=BASE_LR, weight_decay=WEIGHT_DECAY, **optimizer_options)
        return dict(type='OptimWrapper', optimizer=optimizer, constructor=self.constructor,
                    paramwise_cfg=self.paramwise_cfg)

    @property
    def constructor_name(self) -> str:
        constructor = self.constructor
        if isinstance(constructor, str):
            return constructor
        return f'{constructor.__module__}.{constructor.__qualname__}'


#: Per construction model: the published configs' num_layers and decay rate; is it a ViT.
CONSTRUCTION_SETTINGS = {
    'internvit_6b': dict(num_layers=48, rate=0.95, vit=True),
    'convnext_xl': dict(num_layers=12, rate=0.7, vit=False),
    'beit_large': dict(num_layers=24, rate=0.95, vit=True),
}


def construction_candidates(num_layers: int, rate: float, vit: bool) -> List[Candidate]:
    decay = dict(decay_rate=rate, decay_type='layer_wise', num_layers=num_layers)
    ours = [Candidate('ours LearningRateDecay', 'ours', 'LearningRateDecayOptimizerConstructor',
                      decay)]
    if vit:
        ours.insert(0, Candidate('ours CustomLayerDecay', 'ours',
                                 'CustomLayerDecayOptimizerConstructor',
                                 dict(layer_decay_rate=rate, num_layers=num_layers)))
    return [Candidate('floor', 'floor', 'DefaultOptimWrapperConstructor', None), *ours,
            Candidate('mmdet', 'peer', MMDetLearningRateDecay, decay),
            Candidate('mmseg', 'peer', MMSegLearningRateDecay, decay),
            Candidate('mmpretrain', 'peer', LearningRateDecayOptimWrapperConstructor,
                      dict(layer_decay_rate=rate))]


def built_groups(model: nn.Module, candidate: Candidate) -> Tuple[object, List[dict]]:
    """The constructor ``candidate`` names, and the groups its ``add_params`` builds for
    ``model``."""
    cfg = candidate.config()
    wrapper_cfg = {key: value for key, value in cfg.items()
                   if key not in ('constructor', 'paramwise_cfg')}
    constructor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type=candidate.constructor, optim_wrapper_cfg=wrapper_cfg,
        paramwise_cfg=candidate.paramwise_cfg))
    groups: List[dict] = []
    constructor.add_params(groups, model)
    return constructor, groups


def same_groups_candidate(model: nn.Module, ours: Candidate) -> Candidate:
    """MMEngine's ``DefaultOptimWrapperConstructor`` handed the finished groups ``ours`` builds
    for ``model``: what MMEngine and torch cost for that many groups with no grouping work at all
    (``torch.optim.Optimizer.add_param_group`` checks each new group against all earlier ones)."""
    _, groups = built_groups(model, ours)

    class SameGroupsConstructor(DefaultOptimWrapperConstructor):
        def add_params(self, params: List[dict], module: nn.Module, **kwargs) -> None:
            params.extend(dict(group) for group in groups)

    # MMEngine calls add_params only when paramwise_cfg is not empty
    return Candidate(SAME_GROUPS, 'floor', SameGroupsConstructor,
                     dict(handed_groups=len(groups)))


def group_stats(groups: List[dict]) -> dict:
    """Number of groups and, where groups carry ``layer_id``, how many share one id at most."""
    stats = dict(groups=len(groups))
    layer_ids = [group['layer_id'] for group in groups if 'layer_id' in group]
    if layer_ids:
        stats['layer_ids'] = len(set(layer_ids))
        stats['max_groups_per_layer_id'] = max(layer_ids.count(i) for i in set(layer_ids))
    return stats


def check_candidate(model: nn.Module, candidate: Candidate, logger) -> dict:
    """Build once (untimed): does the class accept the model, its groups, its INFO logging."""
    entry = dict(role=candidate.role, constructor=candidate.constructor_name,
                 paramwise_cfg=candidate.paramwise_cfg)
    with counting_logs(logger) as counter, counting_prints() as printed:
        try:
            wrapper = build_optim_wrapper(model, candidate.config())
        except Exception as error:  # a peer refusing the model is a result, not a failure
            entry.update(status='refused', error=f'{type(error).__name__}: {error}'[:300])
            return entry
    entry.update(status='ok', **group_stats(wrapper.optimizer.param_groups),
                 log=dict(counter.as_dict(), printed_lines=printed.lines,
                          printed_bytes=printed.bytes))
    return entry


def breakdown(model: nn.Module, candidate: Candidate, rounds: int, warmup: int) -> dict:
    """Where our construction time goes: the whole ``build_optim_wrapper``, our ``add_params``
    (groups and report), the report alone, ``torch.optim.AdamW`` on our finished groups, and the
    floor, interleaved."""
    cfg = candidate.config()
    constructor, groups = built_groups(model, candidate)
    floor = Candidate('floor', 'floor', 'DefaultOptimWrapperConstructor', None).config()
    steps = {
        'build_optim_wrapper': lambda: build_optim_wrapper(model, cfg),
        'add_params': lambda: constructor.add_params([], model),
        'report': lambda: log_param_groups(candidate.name, groups),
        'adamw_on_groups': lambda: torch.optim.AdamW([dict(group) for group in groups],
                                                     lr=BASE_LR, weight_decay=WEIGHT_DECAY),
        'floor': lambda: build_optim_wrapper(model, floor),
    }
    times = interleaved_ms(steps, rounds, warmup)
    return dict(candidate=candidate.name, groups=len(groups),
                median_ms={name: median(samples) for name, samples in times.items()})


def bench_construction(rounds: int, warmup: int, logger) -> Dict[str, dict]:
    results = {}
    for model_name, (description, factory) in CONSTRUCTION_MODELS.items():
        settings = CONSTRUCTION_SETTINGS[model_name]
        model = build_on_meta(factory)
        params = list(model.parameters())
        candidates = construction_candidates(**settings)
        with silenced_console(logger):
            first_ours = next(c for c in candidates if c.role == 'ours')
            candidates.insert(1, same_groups_candidate(model, first_ours))
            entries = {c.name: check_candidate(model, c, logger) for c in candidates}
            runnable = {c.name: (lambda c=c: build_optim_wrapper(model, c.config()))
                        for c in candidates if entries[c.name]['status'] == 'ok'}
            times = interleaved_ms(runnable, rounds, warmup)
        peers = [name for name, entry in entries.items()
                 if entry['role'] == 'peer' and name in times]
        for name, samples in times.items():
            entry = entries[name]
            entry.update(median_ms=median(samples), times_ms=[round(t, 4) for t in samples],
                         x_floor=median_ratio(samples, times['floor']))
            if entry['role'] == 'ours':
                entry['vs_peers'] = {peer: median_ratio(samples, times[peer]) for peer in peers}
                entry['x_same_groups'] = median_ratio(samples, times[SAME_GROUPS])
        with silenced_console(logger):
            split = breakdown(model, first_ours, rounds, warmup)
        results[model_name] = dict(
            description=description, tensors=len(params), breakdown=split,
            params=sum(p.numel() for p in params), device='meta',
            build=('every tensor factory sent to meta except torch.linspace (the backbones read '
                   'their drop-path rates back with .item())'),
            num_layers=settings['num_layers'], rate=settings['rate'], candidates=entries)
        print(f'construction: {model_name} done', file=sys.stderr)
    return results


#: Optimizer-step models: (depth, width, heads, mlp) at full size and in --quick mode.
STEP_MODELS = {
    'vit_b': dict(description='ViT-B-sized ViT (12 blocks, width 768, InternViT names) + small '
                              'UPerNet', full=(12, 768, 12, 3072), quick=(12, 64, 4, 256),
                  rate=0.75),
    'internvit_6b_layout': dict(description='InternViT-6B layout (48 blocks) at width 200 + small '
                                            'UPerNet', full=(48, 200, 25, 800),
                                quick=(48, 50, 25, 200), rate=0.95),
}
ADAMW_VARIANTS = {'default': {}, 'foreach': dict(foreach=True), 'fused': dict(fused=True)}


def decay_no_decay_groups(model: nn.Module) -> List[dict]:
    """The usual two groups: weight decay for matrices, none for 1-D parameters and biases."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        (no_decay if param.ndim == 1 or name.endswith('.bias') else decay).append(param)
    return [dict(params=decay, weight_decay=WEIGHT_DECAY), dict(params=no_decay, weight_decay=0.0)]


def bench_optimizer_step(rounds: int, warmup: int, quick: bool, logger) -> Dict[str, dict]:
    results = {}
    for model_name, spec in STEP_MODELS.items():
        depth, width, heads, mlp = spec['quick' if quick else 'full']
        model = build_on_cpu(lambda: internvit_6b_seg(width, heads, mlp, depth, channels=64))
        params = list(model.parameters())
        ours = Candidate('ours CustomLayerDecay', 'ours', 'CustomLayerDecayOptimizerConstructor',
                         dict(layer_decay_rate=spec['rate']))
        variants = {}
        for variant, options in ADAMW_VARIANTS.items():
            with silenced_console(logger):
                ours_optimizer = build_optim_wrapper(model, ours.config(**options)).optimizer
            baseline = torch.optim.AdamW(decay_no_decay_groups(model), lr=BASE_LR, **options)
            times = interleaved_ms({'ours': ours_optimizer.step, 'baseline': baseline.step},
                                   rounds, warmup)
            variants[variant] = dict(
                options=options, groups_ours=len(ours_optimizer.param_groups),
                groups_baseline=len(baseline.param_groups), ours_ms=median(times['ours']),
                baseline_ms=median(times['baseline']),
                ratio=median_ratio(times['ours'], times['baseline']),
                ours_times_ms=[round(t, 3) for t in times['ours']],
                baseline_times_ms=[round(t, 3) for t in times['baseline']])
            del ours_optimizer, baseline
        results[model_name] = dict(description=spec['description'], depth=depth, width=width,
                                   tensors=len(params), params=sum(p.numel() for p in params),
                                   variants=variants)
        print(f'optimizer step: {model_name} done', file=sys.stderr)
    return results


MEMORY_CANDIDATES = {c.name: c for c in construction_candidates(48, 0.95, vit=True)}
MEMORY_MARK = 'MEMORY_PROBE '


def memory_probe(candidate_name: str) -> dict:
    """In this (fresh) process: RSS after the imports, then the peak RSS over the RSS before of
    building the InternViT-6B model on meta, and of building its groups."""
    import gc
    import tracemalloc
    logger = MMLogger.get_current_instance()
    candidate = MEMORY_CANDIDATES[candidate_name]
    after_imports = rss_mib()
    # The high-water mark is per address space, so unlike ru_maxrss it is not inherited from a
    # large parent process; it is reset before each step, so the process peak is their maximum.
    process_peak = peak_rss_mib()
    reset_peak_rss()
    model = build_on_meta(internvit_6b_seg)
    model_peak = peak_rss_mib() - after_imports
    process_peak = max(process_peak, peak_rss_mib())
    gc.collect()
    before = rss_mib()
    reset_peak_rss()
    with silenced_console(logger):
        wrapper = build_optim_wrapper(model, candidate.config())
    groups_peak = peak_rss_mib() - before
    process_peak = max(process_peak, peak_rss_mib())
    retained = rss_mib() - before
    groups = len(wrapper.optimizer.param_groups)
    del wrapper
    gc.collect()
    tracemalloc.start()
    with silenced_console(logger):
        build_optim_wrapper(model, candidate.config())
    python_peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return dict(candidate=candidate_name, groups=groups, rss_after_imports_mib=after_imports,
                model_build_peak_mib=model_peak, groups_build_peak_mib=groups_peak,
                groups_retained_mib=retained, python_heap_peak_mib=python_peak,
                process_peak_rss_mib=max(process_peak, peak_rss_mib()))


def bench_memory(candidate_names: List[str]) -> Dict[str, dict]:
    import subprocess
    results = {}
    for name in candidate_names:
        output = subprocess.run([sys.executable, os.path.abspath(__file__), '--memory-probe', name],
                                capture_output=True, text=True, check=True).stdout
        line = next(line for line in output.splitlines() if line.startswith(MEMORY_MARK))
        results[name] = json.loads(line[len(MEMORY_MARK):])
        print(f'memory: {name} done', file=sys.stderr)
    return results


def check_targets(construction: Dict[str, dict]) -> dict:
    """Issue 7's targets for our constructors: time, groups per layer id, log records."""
    ours = [(model, name, entry) for model, result in construction.items()
            for name, entry in result['candidates'].items() if entry['role'] == 'ours']
    failed = [f'{model}/{name}' for model, name, entry in ours if entry['status'] != 'ok']
    ok = [(model, name, entry) for model, name, entry in ours if entry['status'] == 'ok']
    worst_ratio = max(entry['x_floor'] for _, _, entry in ok)
    worst_same_groups = max(entry['x_same_groups'] for _, _, entry in ok)
    worst_groups = max(entry['max_groups_per_layer_id'] for _, _, entry in ok)
    records = sorted({entry['log']['records'] for _, _, entry in ok})
    return {
        'ours_within_2x_floor': dict(holds=not failed and worst_ratio <= FLOOR_RATIO_LIMIT,
                                     limit=FLOOR_RATIO_LIMIT, worst=worst_ratio),
        'ours_within_2x_same_groups': dict(
            holds=not failed and worst_same_groups <= FLOOR_RATIO_LIMIT,
            limit=FLOOR_RATIO_LIMIT, worst=worst_same_groups),
        'groups_per_layer_id': dict(holds=not failed and worst_groups <= GROUPS_PER_LAYER_ID_LIMIT,
                                    limit=GROUPS_PER_LAYER_ID_LIMIT, worst=worst_groups),
        'one_log_record': dict(holds=not failed and records == [LOG_RECORDS_LIMIT],
                               limit=LOG_RECORDS_LIMIT, records=records),
        'refused': failed,
    }


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default='work_dirs/bench/results.json', help='JSON results')
    parser.add_argument('--markdown', help='also write the tables as a markdown report here')
    parser.add_argument('--quick', action='store_true',
                        help='few rounds and small widths (a smoke test, not a measurement)')
    parser.add_argument('--rounds', type=int,
                        help='timed construction rounds (default 40, quick 3)')
    parser.add_argument('--step-rounds', type=int,
                        help='timed optimizer steps (default 7, quick 2)')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch intra-op threads (default 1: on a shared 2-core machine more '
                             'threads make the optimizer-step timings erratic)')
    parser.add_argument('--memory-probe', choices=sorted(MEMORY_CANDIDATES), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.memory_probe:
        print(MEMORY_MARK + json.dumps(memory_probe(args.memory_probe)))
        return 0
    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    logger = MMLogger.get_current_instance()
    rounds = args.rounds or (3 if args.quick else 40)
    step_rounds = args.step_rounds or (2 if args.quick else 7)
    settings = dict(torch_threads=args.threads, construction_rounds=rounds,
                    construction_warmup=1 if args.quick else 3,
                    step_rounds=step_rounds, step_warmup=1 if args.quick else 2)
    machine = machine_facts()
    section_s = {}

    def timed(section: str, fn: Callable[[], dict]) -> dict:
        section_start = time.perf_counter()
        result = fn()
        section_s[section] = round(time.perf_counter() - section_start, 2)
        return result

    construction = timed('construction', lambda: bench_construction(
        rounds, settings['construction_warmup'], logger))
    step = timed('optimizer_step', lambda: bench_optimizer_step(
        step_rounds, settings['step_warmup'], args.quick, logger))
    memory = timed('memory', lambda: bench_memory(
        ['ours CustomLayerDecay'] if args.quick
        else ['floor', 'ours CustomLayerDecay', 'mmpretrain']))
    results = dict(
        schema=1, quick=args.quick,
        command=' '.join(['python', *sys.argv]) if argv is None else 'main()',
        machine=machine, settings=settings, construction=construction, optimizer_step=step,
        memory=memory, targets=check_targets(construction),
        load_average_after=[round(load, 2) for load in os.getloadavg()],
        section_s=section_s, elapsed_s=time.perf_counter() - started)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, 'w') as out:
        json.dump(results, out, indent=2)
    report = markdown_report(results)
    print(report)
    if args.markdown:
        os.makedirs(os.path.dirname(os.path.abspath(args.markdown)), exist_ok=True)
        with open(args.markdown, 'w') as out:
            out.write(report)
    print(f'results: {args.out} ({results["elapsed_s"]:.0f} s)', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
