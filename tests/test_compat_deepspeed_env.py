"""``mmcv_custom.compat.deepspeed_env``: DeepSpeed's op cache and ninja in the venv, its CPU
accelerator named on a machine without CUDA, nothing the user set changed. The tests run under it
(conftest.py), so the ZeRO tests use the op the set-up built."""
import os
import subprocess
import sys

import torch

from mmcv_custom.compat import deepspeed_env


def test_in_the_venv_the_cache_and_the_venvs_bin_are_set_and_the_cpu_accelerator_named():
    environ = {'PATH': '/usr/bin:/bin'}
    changed = deepspeed_env.configure(environ)
    assert sys.prefix != sys.base_prefix  # the tests run in .venv
    assert environ['TORCH_EXTENSIONS_DIR'] == os.path.join(sys.prefix, 'torch_extensions')
    assert environ['PATH'] == os.pathsep.join([os.path.join(sys.prefix, 'bin'), '/usr/bin:/bin'])
    assert not torch.cuda.is_available()
    assert environ['DS_ACCELERATOR'] == 'cpu'
    assert changed == environ


def test_what_the_user_set_is_kept_and_path_is_prepended_once():
    bin_dir = os.path.join(sys.prefix, 'bin')
    environ = {'TORCH_EXTENSIONS_DIR': '/scratch/ext', 'DS_ACCELERATOR': 'cuda',
               'PATH': os.pathsep.join([bin_dir, '/usr/bin'])}
    assert deepspeed_env.configure(environ) == {}
    assert environ == {'TORCH_EXTENSIONS_DIR': '/scratch/ext', 'DS_ACCELERATOR': 'cuda',
                       'PATH': os.pathsep.join([bin_dir, '/usr/bin'])}


def test_an_unset_path_keeps_the_default_search_path_behind_the_venvs_bin():
    environ = {}
    deepspeed_env.configure(environ)
    assert environ['PATH'] == os.pathsep.join([os.path.join(sys.prefix, 'bin'), os.defpath])


def test_importing_deepspeed_after_configure_prints_nothing():
    code = ('from mmcv_custom.compat import deepspeed_env\n'
            'deepspeed_env.configure()\n'
            'import deepspeed\n'
            'from deepspeed.accelerator import get_accelerator\n'
            'print(get_accelerator().device_name())\n')
    env = {key: value for key, value in os.environ.items() if key != 'DS_ACCELERATOR'}
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout == 'cpu\n'
    assert 'Setting accelerator' not in result.stderr
