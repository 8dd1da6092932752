"""Rewrite the optimization part of an mmcv 1.x config for OpenMMLab 2.x.

    python tools/migrate_config.py OLD_CONFIG [-o NEW_CONFIG]

Without ``-o`` the new config is printed. Converted: ``optimizer`` / ``optimizer_config`` /
``fp16`` -> ``optim_wrapper`` (constructor and ``paramwise_cfg`` moved up), ``lr_config`` ->
``param_scheduler`` (the same lr as mmcv 1.x at every iteration), ``runner`` / ``evaluation`` /
``checkpoint_config`` -> ``train_cfg``, loops and ``default_hooks.checkpoint``. What is not
converted (model, data, ...) is listed at the top of the output. A setting that cannot be
converted faithfully stops the tool with a message (exit status 2). See ``mmcv_custom.migrate``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # a checkout, not installed
# A text conversion: mmcv_custom.migrate needs MMEngine's Config; importing mmcv_custom brings
# torch and MMEngine's registries, but no mmseg / mmdet / mmpretrain, runner or DeepSpeed
# (tests/test_import.py).
from mmcv_custom.migrate import MigrationError, migrate_config, render_migration  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert the optimization part of an mmcv 1.x config to OpenMMLab 2.x')
    parser.add_argument('config', help='the mmcv 1.x config file (its _base_ files are read)')
    parser.add_argument('-o', '--out', help='write the new config here (default: print it)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        text = render_migration(migrate_config(args.config))
    except MigrationError as error:
        print(f'migrate_config: {args.config}: {error}', file=sys.stderr)
        return 2
    if args.out is None:
        sys.stdout.write(text)
        return 0
    with open(args.out, 'w', encoding='utf-8') as file:
        file.write(text)
    print(f'migrate_config: wrote {args.out}', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
