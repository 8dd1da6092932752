"""Write a tiny, randomly initialised transformers ``InternVLVisionModel`` for ``make
demo-internvit``: the stand-in for released InternViT weights, in the layout InternVL3 ``-hf``
checkpoints use (transformers' own ``save_pretrained`` folder: ``config.json`` and
``model.safetensors``), which ``tools/model_converters/internvit.py`` then converts.

    python tools/demo_internvit_weights.py OUT_DIR [--seed 0]

The model: InternViT-6B's layout (RMSNorm, full-width QK-norm, no qkv bias, layer scale) at width
64, 4 blocks, 4 heads, MLP 128, patch 8, trained-at size 32 px (a 4 x 4 position grid); the weights
are transformers' own initialisation with ``--seed``. Needs transformers (>= 4.52).
"""
import argparse
import sys

#: The demo's InternViT, in transformers' ``InternVLVisionConfig`` terms.
DEMO_CONFIG = dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
                   intermediate_size=128, image_size=32, patch_size=8, norm_type='rms_norm',
                   use_qk_norm=True, attention_bias=False, layer_norm_eps=1e-6)


def write(out_dir: str, seed: int = 0) -> str:
    """Save the random model to ``out_dir``; returns ``out_dir``."""
    import torch
    from transformers import InternVLVisionConfig, InternVLVisionModel
    torch.manual_seed(seed)
    model = InternVLVisionModel(InternVLVisionConfig(**DEMO_CONFIG))
    model.save_pretrained(out_dir)
    return out_dir


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('out_dir', help='folder to write config.json and model.safetensors to')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    write(args.out_dir, args.seed)
    print(f'wrote a random transformers InternVLVisionModel ({DEMO_CONFIG}) to {args.out_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
