"""Convert released InternViT weights into a checkpoint of mmcv_custom's ``InternViT`` backbone.

    python tools/model_converters/internvit.py SRC DST [--arch {6b,6b-45,300m} | --arch JSON]
        [--truncate-to N] [--prefix PREFIX] [--dtype {float32,bfloat16,float16}] [--trust-pickle]

SRC is a file (``.pth`` / ``.pt`` / ``.bin`` / ``.safetensors``, recognised by its contents) or a
Hugging Face folder (sharded safetensors with ``model.safetensors.index.json``, or one
``model.safetensors``). It reads InternVL's timm-style files (``intern_vit_6b_224px.pth``,
``intern_vit_6b_448px_v1_*.pth``), the remote-code checkpoints ``OpenGVLab/InternViT-6B-448px-V2_5``
/ ``InternViT-300M-448px-V2_5`` (and InternVL chat checkpoints, ``vision_model.*``), and
transformers' native layout inside InternVL3 / 3.5 ``-hf`` checkpoints (``vision_tower.*`` /
``model.vision_tower.*``). Nothing is downloaded: fetch the files first (e.g. ``huggingface-cli
download OpenGVLab/InternViT-6B-448px-V2_5 --local-dir pretrain/InternViT-6B-448px-V2_5``).

DST (``torch.save``: ``{'state_dict', 'meta'}``) loads strictly through the backbone's
``init_cfg=dict(type='Pretrained', checkpoint=DST)``. DST must not be SRC or one of its files
(also through a link): refused before anything is read. Without ``--arch`` the checkpoint's shape
picks the preset; a checkpoint with a preset's widths that matches no preset is refused with the
``--arch '{"embed_dims": ...}'`` JSON to pass if that is what you have. Every key that does not fit
the arch is named, and every file that cannot be read (exit status 1); ``--truncate-to 45`` keeps
the first 45 blocks of a 48-block file (as InternVL's 448 px V1-2 / V1-5 / V2-5 releases are
built). The library function is ``mmcv_custom.models.convert_internvit``.
"""
import argparse
import json
import sys
import time

from mmcv_custom.models.internvit_arch import ARCHS
from mmcv_custom.models.internvit_convert import convert_internvit


def arch_argument(text: str):
    """A preset name (any case) or a JSON object of arch fields."""
    if text.lstrip().startswith('{'):
        try:
            value = json.loads(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f'not a JSON object ({error}): {text}') from None
        if not isinstance(value, dict):
            raise argparse.ArgumentTypeError(f'not a JSON object: {text}')
        return value
    if text.lower() not in ARCHS:
        raise argparse.ArgumentTypeError(
            f'{text!r} is not a preset ({", ".join(sorted(ARCHS))}) nor a JSON object such as '
            '\'{"embed_dims": 3200, "num_layers": 47, "num_heads": 25, '
            '"feedforward_channels": 12800, "qk_norm": true}\'')
    return text.lower()


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Convert InternViT weights (InternVL .pth, Hugging Face remote code or "
                    "transformers' InternVLVisionModel) to mmcv_custom's InternViT names")
    parser.add_argument('src', help='checkpoint file or Hugging Face folder')
    parser.add_argument('dst', help='output .pth for init_cfg=dict(type="Pretrained", ...)')
    parser.add_argument('--arch', type=arch_argument, default=None,
                        help=f'check against this preset ({", ".join(sorted(ARCHS))}) or this '
                        'JSON object of arch fields (default: the preset of the '
                        "checkpoint's shape)")
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
    except (ValueError, KeyError, TypeError, OSError) as error:
        # CheckpointKeyError / CheckpointFileError are ValueErrors; each names the key or file
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f'error: {message}', file=sys.stderr)
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
