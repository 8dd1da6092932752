"""Convert released InternViT weights into a checkpoint of mmcv_custom's ``InternViT`` backbone.

    python tools/model_converters/internvit.py SRC DST [--arch {6b,6b-45,300m}]
        [--truncate-to N] [--prefix PREFIX] [--dtype {float32,bfloat16,float16}] [--trust-pickle]

SRC is a file (``.pth`` / ``.pt`` / ``.bin`` / ``.safetensors``) or a Hugging Face folder (sharded
safetensors with ``model.safetensors.index.json``, or one ``model.safetensors``). It reads
InternVL's timm-style files (``intern_vit_6b_224px.pth``, ``intern_vit_6b_448px_v1_*.pth``), the
remote-code checkpoints ``OpenGVLab/InternViT-6B-448px-V2_5`` / ``InternViT-300M-448px-V2_5`` (and
InternVL chat checkpoints, ``vision_model.*``), and transformers' native layout inside InternVL3 /
3.5 ``-hf`` checkpoints (``vision_tower.*`` / ``model.vision_tower.*``). Nothing is downloaded:
fetch the files first (e.g. ``huggingface-cli download OpenGVLab/InternViT-6B-448px-V2_5
--local-dir pretrain/InternViT-6B-448px-V2_5``).

DST (``torch.save``: ``{'state_dict', 'meta'}``) loads strictly through the backbone's
``init_cfg=dict(type='Pretrained', checkpoint=DST)``. Every key that does not fit the arch is
named (exit status 1); ``--truncate-to 45`` keeps the first 45 blocks of a 48-block file (as
InternVL's 448 px V1-2 / V1-5 / V2-5 releases are built). The library function is
``mmcv_custom.models.convert_internvit``.
"""
import argparse
import sys
import time

from mmcv_custom.models.internvit_arch import ARCHS
from mmcv_custom.models.internvit_convert import CheckpointKeyError, convert_internvit


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Convert InternViT weights (InternVL .pth, Hugging Face remote code or "
                    "transformers' InternVLVisionModel) to mmcv_custom's InternViT names")
    parser.add_argument('src', help='checkpoint file or Hugging Face folder')
    parser.add_argument('dst', help='output .pth for init_cfg=dict(type="Pretrained", ...)')
    parser.add_argument('--arch', choices=sorted(ARCHS), default=None,
                        help='check against this preset (default: the preset of the '
                        "checkpoint's width, norm and block count)")
    parser.add_argument('--truncate-to', type=int, default=None, metavar='N',
                        help='keep only the first N blocks (N = the arch\'s block count)')
    parser.add_argument('--prefix', default=None,
                        help="the vision encoder's key prefix (default: found; '' for none)")
    parser.add_argument('--dtype', choices=('float32', 'bfloat16', 'float16'), default=None,
                        help="cast every tensor (default: keep the file's dtype)")
    parser.add_argument('--trust-pickle', action='store_true',
                        help='torch.load with weights_only=False (only for files you trust)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    try:
        result = convert_internvit(args.src, args.dst, arch=args.arch,
                                   truncate_to=args.truncate_to, prefix=args.prefix,
                                   dtype=args.dtype, trust_pickle=args.trust_pickle)
    except (CheckpointKeyError, ValueError, FileNotFoundError) as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    arch = result.arch_name or result.arch.to_dict()
    print(f'read {args.src}: layout {result.layout!r}'
          + (f", prefix {result.prefix!r}" if result.prefix else ''))
    for note in result.notes:
        print(f'note: {note}')
    print(f'arch {arch!r}: {result.arch.num_layers} blocks, width {result.arch.embed_dims}, '
          f'{result.num_params:,} parameters, position embedding at '
          f'{result.arch.pretrain_img_size} px')
    print(f'wrote {args.dst} in {time.perf_counter() - start:.1f} s; use it as')
    patch = f', patch_size={result.patch_size}' if result.patch_size != 14 else ''
    print(f"    backbone=dict(type='InternViT', arch={arch!r}{patch}, "
          f'pretrain_img_size={result.arch.pretrain_img_size}, '
          f"init_cfg=dict(type='Pretrained', checkpoint={args.dst!r}))")
    return 0


if __name__ == '__main__':
    sys.exit(main())
