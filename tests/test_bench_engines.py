"""``benchmarks/bench_engines.py`` (in ``make bench``) keeps working: a ``--quick`` run on 2 CPU
processes times FSDP and DeepSpeed ZeRO-3 steps with our groups and with two groups. Timings are
never asserted here."""
import json
import os.path as osp
import sys

sys.path.insert(0, osp.join(osp.dirname(osp.abspath(__file__)), 'dist_scripts'))
from launch import ROOT, run, tail, torchrun_cmd  # noqa: E402


def test_quick_engine_bench_times_both_setups_of_each_engine(tmp_path):
    out = tmp_path / 'engines.json'
    result = run(torchrun_cmd(osp.join(ROOT, 'benchmarks', 'bench_engines.py'),
                              ['--quick', '--out', str(out), '--markdown',
                               str(tmp_path / 'ENGINES.md')]), timeout=300)
    assert result.returncode == 0, tail(result, 60)
    results = json.loads(out.read_text())
    assert set(results['engines']) == {'fsdp', 'zero3'}
    for engine, row in results['engines'].items():
        # depth 2: embeddings, 2 blocks and the head, decay and no-decay each
        assert (row['groups_ours'], row['groups_two']) == (8, 2), engine
        assert len(row['ours_times_ms']) == len(row['two_groups_times_ms']) == results['rounds']
        assert row['ours_ms'] > 0 and row['two_groups_ms'] > 0 and row['ratio'] > 0
    assert '| fsdp | 8 / 2 |' in (tmp_path / 'ENGINES.md').read_text()
