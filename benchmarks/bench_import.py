"""What ``import mmcv_custom`` costs on top of the registries it registers into, and what it prints.

Each round starts a fresh interpreter that imports the registries mmcv_custom registers into
(``mmengine.optim``, ``mmseg.registry``, ``mmdet.registry``, ``mmpretrain.registry``), then
``mmcv_custom``, timing each step with ``time.perf_counter`` (interpreter start-up is not counted).
The figure is the median over the rounds of the second step. What ``import mmcv_custom`` prints
is read from one more interpreter that imports it alone (the registries print DeepSpeed's
accelerator line themselves where DeepSpeed is installed: ``mmpretrain`` imports MMEngine's
runner). Targets (issue 15): 0.5 s or less, nothing printed.

Usage (``make bench``)::

    python benchmarks/bench_import.py --rounds 7 --out work_dirs/bench/import.json
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from typing import Dict, List, Optional, Sequence

REGISTRIES = ('mmengine.optim', 'mmseg.registry', 'mmdet.registry', 'mmpretrain.registry')
TARGET_S = 0.5

_TIMED = '''
import importlib, json, sys, time
steps = []
for names in {steps!r}:
    start = time.perf_counter()
    for name in names:
        importlib.import_module(name)
    steps.append(time.perf_counter() - start)
sys.__stdout__.write('\\n@@' + json.dumps(steps) + '\\n')
'''


def timed_imports(steps: Sequence[Sequence[str]], env: Dict[str, str]) -> Dict[str, object]:
    """Import each step's modules in turn in a fresh interpreter: the seconds of each step, and
    what the interpreter printed besides."""
    code = _TIMED.format(steps=[tuple(step) for step in steps])
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                            env=env, check=True)
    printed, _, timing = result.stdout.rpartition('\n@@')
    return dict(seconds=json.loads(timing), printed=(printed.strip() + result.stderr).strip())


def measure(rounds: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS='1')
    registries, ours = [], []
    for _ in range(rounds):
        first, second = timed_imports([REGISTRIES, ['mmcv_custom']], env)['seconds']
        registries.append(first)
        ours.append(second)
    alone = timed_imports([['mmcv_custom']], env)
    return dict(rounds=rounds, registries=list(REGISTRIES),
                registries_s=statistics.median(registries), mmcv_custom_s=statistics.median(ours),
                mmcv_custom_runs_s=ours, alone_s=alone['seconds'][0], printed=alone['printed'],
                target_s=TARGET_S)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--rounds', type=int, default=7, help='fresh interpreters')
    parser.add_argument('--out', help='write the figures as JSON here')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.rounds < 1:
        raise SystemExit(f'--rounds must be >= 1, got {args.rounds}')
    figures = measure(args.rounds)
    print(f"import {', '.join(REGISTRIES)}: {figures['registries_s']:.2f} s "
          f"(median of {args.rounds} fresh interpreters)")
    print(f"then import mmcv_custom: {figures['mmcv_custom_s']:.3f} s (median; target <= "
          f"{TARGET_S} s)")
    print(f"import mmcv_custom alone: {figures['alone_s']:.2f} s, printed: "
          + (repr(figures['printed']) if figures['printed'] else 'nothing'))
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w', encoding='utf-8') as file:
            json.dump(figures, file, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
