"""Compile DeepSpeed's CPU communication op once, during set-up (``tools/setup_env.sh``).

On a machine without CUDA, DeepSpeed runs on its CPU accelerator, and ``deepspeed.initialize``
JIT-compiles the ``deepspeed_shm_comm`` op (``ShareMemCommBuilder``) the first time it is used
(see the README's "Set-up and test times"), cached afterwards under torch's extensions directory:
``TORCH_EXTENSIONS_DIR``, which ``mmcv_custom.compat.deepspeed_env`` sets to
``<venv>/torch_extensions`` here, in the tools and in the tests. Building it here keeps that out
of the first test or training run. On a CUDA machine there is nothing to build ahead: the op is
CPU-only and the CUDA ops DeepSpeed needs are compiled on first use as usual.

Exit status 1 with the builder's message when the op does not compile.
"""
import os
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # a checkout, not installed
from mmcv_custom.compat import deepspeed_env  # noqa: E402


def main() -> int:
    deepspeed_env.configure()
    import deepspeed
    import torch
    from deepspeed.accelerator import get_accelerator
    if torch.cuda.is_available():
        print('build_deepspeed_ops: CUDA is available; the CPU op is not needed')
        return 0
    builder = get_accelerator().create_op_builder('ShareMemCommBuilder')
    if builder is None or not deepspeed.ops.__compatible_ops__.get(builder.NAME, False):
        print(f'build_deepspeed_ops: DeepSpeed {deepspeed.__version__} on '
              f'{get_accelerator().device_name()} has no compatible ShareMemCommBuilder; '
              'nothing to build', file=sys.stderr)
        return 1
    start = time.time()
    try:
        builder.load(verbose=False)
    except Exception as error:  # reported with its message; set-up stops
        print(f'build_deepspeed_ops: {builder.NAME} failed to compile: {error}', file=sys.stderr)
        return 1
    print(f'build_deepspeed_ops: {builder.NAME} ready in {time.time() - start:.1f} s '
          f'(DeepSpeed {deepspeed.__version__}, {get_accelerator().device_name()} accelerator, '
          f"in {os.environ.get('TORCH_EXTENSIONS_DIR', '~/.cache/torch_extensions')})")
    return 0


if __name__ == '__main__':
    sys.exit(main())
