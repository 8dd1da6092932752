"""Small modules with the parameter names of published models that no installed package has:
CB-InternImage (InternImage's record detectors), ViT-Adapter's Uni-Perceiver backbone, DINOv2's
chunked ViT and OmniDrive's ``Petr3D``. Where an installed class has the names (mmdet's
``ChannelMapper`` / ``FPN`` / ``RPNHead``, mmcv's ``MultiScaleDeformableAttention``), it is used.

Each class names the published file whose layout it copies; widths are tiny, the structure (the
names and how many tensors each block has) is the published one.
"""
from typing import Sequence

import torch
from torch import nn


def _deform_attn(dim: int, num_levels: int = 4) -> nn.Module:
    """mmcv's ``MultiScaleDeformableAttention``: ``sampling_offsets``, ``attention_weights``,
    ``value_proj``, ``output_proj`` (the same names as ViT-Adapter's ``MSDeformAttn``)."""
    from mmcv.ops import MultiScaleDeformableAttention
    return MultiScaleDeformableAttention(embed_dims=dim, num_heads=2, num_levels=num_levels,
                                         num_points=2)


# --- CB-InternImage ---------------------------------------------------------------------------
# OpenGVLab/InternImage detection/mmdet_custom/models/backbones/{intern_image,cbnet}.py with the
# InternImage-H options of the CB-H configs (dw_kernel_size, res_post_norm, level2_post_norm,
# center_feature_scale; layer_scale None, post_norm False).

def _ln(dim: int, lead: int = 0) -> nn.Sequential:
    """InternImage's ``build_norm_layer(dim, 'LN', ...)``: a LayerNorm behind ``lead`` layout
    permutations (``.0`` channels-last to channels-last, ``.1`` from channels-first)."""
    return nn.Sequential(*[nn.Identity()] * lead, nn.LayerNorm(dim))


class DCNv3(nn.Module):
    """``ops_dcnv3.modules.DCNv3`` with ``dw_kernel_size`` and ``center_feature_scale``."""

    def __init__(self, dim: int, group: int = 2) -> None:
        super().__init__()
        self.dw_conv = nn.Sequential(nn.Conv2d(dim, dim, 5, padding=2, groups=dim), _ln(dim, 1),
                                     nn.GELU())
        self.offset = nn.Linear(dim, group * 9 * 2)
        self.mask = nn.Linear(dim, group * 9)
        self.input_proj = nn.Linear(dim, dim)
        self.output_proj = nn.Linear(dim, dim)
        self.center_feature_scale_proj_weight = nn.Parameter(torch.zeros(group, dim))
        self.center_feature_scale_proj_bias = nn.Parameter(torch.zeros(group))


class MLPLayer(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, 2 * dim)
        self.fc2 = nn.Linear(2 * dim, dim)


class InternImageLayer(nn.Module):
    """``norm1``, ``dcn``, ``norm2``, ``mlp`` and (InternImage-H) ``res_post_norm1/2``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm1 = _ln(dim)
        self.dcn = DCNv3(dim)
        self.norm2 = _ln(dim)
        self.mlp = MLPLayer(dim)
        self.res_post_norm1 = _ln(dim)
        self.res_post_norm2 = _ln(dim)


class InternImageLevel(nn.Module):
    """``blocks.B``, ``norm``, level 2's ``post_norms.K`` and ``downsample`` (not on the last)."""

    def __init__(self, dim: int, depth: int, post_norm_block_ids: Sequence[int],
                 downsample: bool) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(InternImageLayer(dim) for _ in range(depth))
        self.norm = _ln(dim)
        if post_norm_block_ids:
            self.post_norms = nn.ModuleList(_ln(dim) for _ in post_norm_block_ids)
        if downsample:
            self.downsample = nn.Module()
            self.downsample.conv = nn.Conv2d(dim, 2 * dim, 3, stride=2, padding=1, bias=False)
            self.downsample.norm = _ln(2 * dim, 1)


class StemLayer(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, dim // 2, 3, stride=2, padding=1)
        self.norm1 = _ln(dim // 2, 1)
        self.conv2 = nn.Conv2d(dim // 2, dim, 3, stride=2, padding=1)
        self.norm2 = _ln(dim, 1)


class InternImageCopy(nn.Module):
    """``cbnet.py``'s ``_InternImage``: copy 0 is a whole InternImage (``patch_embed``,
    ``levels``); copy 1 has its ``patch_embed`` deleted (``cb_del_stages=1``) and adds
    ``gamma0-3``, the scales of the features fed back from copy 0."""

    def __init__(self, cb_idx: int, depths: Sequence[int], channels: int,
                 post_norm_block_ids: Sequence[int]) -> None:
        super().__init__()
        if cb_idx == 0:
            self.patch_embed = StemLayer(channels)
        self.levels = nn.ModuleList(
            InternImageLevel(channels * 2 ** i, depth, post_norm_block_ids if i == 2 else (),
                             downsample=i < len(depths) - 1)
            for i, depth in enumerate(depths))
        if cb_idx == 1:
            for i in range(len(depths)):
                setattr(self, f'gamma{i}', nn.Parameter(torch.zeros(channels * 2 ** i)))


class CBInternImage(nn.Module):
    """``cbnet.py``'s ``CBInternImage``: ``cb_modules.{0,1}`` and ``cb_linears.i.j`` (a 1x1 conv
    from level ``i + j`` to level ``i``'s width, ``nn.Identity`` where the widths agree)."""

    def __init__(self, depths: Sequence[int] = (2, 2, 3, 2), channels: int = 8,
                 post_norm_block_ids: Sequence[int] = (1,)) -> None:
        super().__init__()
        self.cb_modules = nn.ModuleList(
            InternImageCopy(cb_idx, depths, channels, post_norm_block_ids) for cb_idx in (0, 1))
        widths = [channels * 2 ** i for i in range(len(depths))]
        self.cb_linears = nn.ModuleList()
        for i in range(len(depths)):
            linears = nn.ModuleList()
            for j in range(len(depths) - i):
                linears.append(nn.Identity() if widths[i + j] == widths[i]
                               else nn.Conv2d(widths[i + j], widths[i], 1))
            self.cb_linears.append(linears)


class InternImageDINOHead(nn.Module):
    """InternImage's mmdet 2.x ``CBDINOHead`` / ``DinoTransformer`` names: ``transformer.
    level_embeds``, deformable attention (``sampling_offsets``) in the encoder and decoder layers,
    ``enc_output(_norm)``, ``cls_branches`` / ``reg_branches``."""

    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.transformer = nn.Module()
        self.transformer.level_embeds = nn.Parameter(torch.zeros(4, dim))
        self.transformer.encoder = nn.Module()
        self.transformer.encoder.layers = nn.ModuleList()
        for _ in range(2):
            layer = nn.Module()
            layer.attentions = nn.ModuleList([_deform_attn(dim)])
            layer.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(2))
            self.transformer.encoder.layers.append(layer)
        self.transformer.decoder = nn.Module()
        self.transformer.decoder.layers = nn.ModuleList()
        for _ in range(2):
            layer = nn.Module()
            layer.attentions = nn.ModuleList([nn.MultiheadAttention(dim, 2), _deform_attn(dim)])
            layer.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(3))
            self.transformer.decoder.layers.append(layer)
        self.transformer.enc_output = nn.Linear(dim, dim)
        self.transformer.enc_output_norm = nn.LayerNorm(dim)
        self.cls_branches = nn.ModuleList(nn.Linear(dim, 5) for _ in range(3))
        self.reg_branches = nn.ModuleList(nn.Linear(dim, 4) for _ in range(3))


class CBDINO(nn.Module):
    """InternImage's ``CBDINO`` (``detection/mmdet_custom/models/detectors/cbnet_dino.py``) as the
    CB-H configs build it: ``backbone`` (CB-InternImage), ``neck.0`` (``CBChannelMapper``, here
    mmdet's ``ChannelMapper``, whose names it keeps), ``bbox_head``."""

    def __init__(self, depths: Sequence[int] = (2, 2, 3, 2), channels: int = 8,
                 post_norm_block_ids: Sequence[int] = (1,)) -> None:
        super().__init__()
        from mmdet.models.necks import ChannelMapper
        self.backbone = CBInternImage(depths, channels, post_norm_block_ids)
        self.neck = nn.Sequential(ChannelMapper(
            in_channels=[channels * 2, channels * 4, channels * 8], kernel_size=1,
            out_channels=8, act_cfg=None, norm_cfg=dict(type='GN', num_groups=2), num_outs=4))
        self.bbox_head = InternImageDINOHead(8)


# --- ViT-Adapter's Uni-Perceiver --------------------------------------------------------------
# czczup/ViT-Adapter detection/mmdet_custom/models/backbones/base/uniperceiver.py
# (UnifiedBertEncoder) and uniperceiver_adapter.py (UniPerceiverAdapter).

class BertLayer(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.attention = nn.Module()
        self.attention.self = nn.Module()
        for name in ('query', 'key', 'value'):
            setattr(self.attention.self, name, nn.Linear(dim, dim))
        self.attention.output = nn.Module()
        self.attention.output.dense = nn.Linear(dim, dim)
        self.attention.output.LayerNorm = nn.LayerNorm(dim)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(dim, 2 * dim)
        self.output = nn.Module()
        self.output.dense = nn.Linear(2 * dim, dim)
        self.output.LayerNorm = nn.LayerNorm(dim)


class UniPerceiverAdapter(nn.Module):
    """``layers.N`` (BERT layers), ``visual_embed`` (``embeddings_norm``, ``embeddings_type``,
    ``patch_embed.pos_embed`` (an ``nn.Embedding``), ``patch_embed.proj``) and the adapter's
    ``level_embed``, ``spm``, ``interactions`` (deformable attention), ``up``, ``norm1-4``."""

    def __init__(self, depth: int = 4, dim: int = 8) -> None:
        super().__init__()
        self.layers = nn.ModuleList(BertLayer(dim) for _ in range(depth))
        self.visual_embed = nn.Module()
        self.visual_embed.embeddings_norm = nn.LayerNorm(dim)
        self.visual_embed.embeddings_type = nn.Embedding(1, dim)
        self.visual_embed.patch_embed = nn.Module()
        self.visual_embed.patch_embed.pos_embed = nn.Embedding(16, dim)
        self.visual_embed.patch_embed.proj = nn.Conv2d(3, dim, 4, 4)
        self.level_embed = nn.Parameter(torch.zeros(3, dim))
        self.spm = nn.Module()
        self.spm.stem = nn.Sequential(nn.Conv2d(3, dim, 3, bias=False), nn.BatchNorm2d(dim))
        self.spm.fc1 = nn.Conv2d(dim, dim, 1)
        self.interactions = nn.Sequential()
        for _ in range(2):
            block = nn.Module()
            block.injector = nn.Module()
            block.injector.query_norm = nn.LayerNorm(dim)
            block.injector.attn = _deform_attn(dim, num_levels=3)
            block.injector.gamma = nn.Parameter(torch.zeros(dim))
            self.interactions.append(block)
        self.up = nn.ConvTranspose2d(dim, dim, 2, 2)
        for i in range(1, 5):
            setattr(self, f'norm{i}', nn.BatchNorm2d(dim))


class UniPerceiverHTC(nn.Module):
    """The HTC++ detector of ``detection/configs/htc++/htc++_uniperceiver_adapter_large_fpn_3x_
    coco.py``, reduced to a backbone, mmdet's ``FPN`` and ``RPNHead`` and a RoI head."""

    def __init__(self, depth: int = 4, dim: int = 8) -> None:
        super().__init__()
        from mmdet.models.dense_heads import RPNHead
        from mmdet.models.necks import FPN
        self.backbone = UniPerceiverAdapter(depth, dim)
        self.neck = nn.Sequential(FPN(in_channels=[dim] * 4, out_channels=dim, num_outs=5))
        self.rpn_head = RPNHead(in_channels=dim, feat_channels=dim, anchor_generator=dict(
            type='AnchorGenerator', scales=[8], ratios=[0.5, 1.0, 2.0],
            strides=[4, 8, 16, 32, 64]))
        self.roi_head = nn.Module()
        self.roi_head.bbox_head = nn.ModuleList(nn.Linear(dim, 5) for _ in range(3))


class WSDMUniPerceiver(nn.Module):
    """``wsdm2023/mmdet_custom/models/backbones/base/uniperceiver.py``: the same ``visual_embed``
    (``patch_embed.spatial_pos_embed`` / ``temporal_pos_embed``), ``layers.N`` and a text
    ``token_embed``, under a grounding DINO's ``bbox_head``."""

    def __init__(self, depth: int = 4, dim: int = 8) -> None:
        super().__init__()
        self.backbone = nn.Module()
        backbone = self.backbone
        backbone.layers = nn.ModuleList(BertLayer(dim) for _ in range(depth))
        backbone.visual_embed = nn.Module()
        backbone.visual_embed.embeddings_norm = nn.LayerNorm(dim)
        backbone.visual_embed.patch_embed = nn.Module()
        backbone.visual_embed.patch_embed.spatial_pos_embed = nn.Embedding(16, dim)
        backbone.visual_embed.patch_embed.temporal_pos_embed = nn.Embedding(8, dim)
        backbone.visual_embed.patch_embed.proj = nn.Conv2d(3, dim, 4, 4)
        backbone.token_embed = nn.Module()
        backbone.token_embed.embeddings = nn.Embedding(32, dim)
        backbone.token_embed.embeddings_norm = nn.LayerNorm(dim)
        backbone.level_embed = nn.Parameter(torch.zeros(3, dim))
        self.bbox_head = InternImageDINOHead(dim)


# --- DINOv2 with block_chunks > 0 -------------------------------------------------------------
# facebookresearch/dinov2 dinov2/models/vision_transformer.py (DinoVisionTransformer, BlockChunk).

class DINOv2Block(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(dim, 3 * dim)
        self.attn.proj = nn.Linear(dim, dim)
        self.ls1 = nn.Module()
        self.ls1.gamma = nn.Parameter(torch.ones(dim))
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(dim, 2 * dim)
        self.mlp.fc2 = nn.Linear(2 * dim, dim)
        self.ls2 = nn.Module()
        self.ls2.gamma = nn.Parameter(torch.ones(dim))


class DINOv2ViT(nn.Module):
    """``DinoVisionTransformer``: ``cls_token``, ``pos_embed``, ``register_tokens``,
    ``patch_embed.proj``, ``blocks``, ``norm``, ``mask_token``. With ``block_chunks > 0`` the
    blocks are ``blocks.C.I``: chunk ``C`` holds ``nn.Identity()`` for the blocks before it, so
    ``I`` is the index in the whole list (as the released training checkpoints are named)."""

    def __init__(self, depth: int = 8, dim: int = 8, block_chunks: int = 0,
                 num_register_tokens: int = 0) -> None:
        super().__init__()
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, dim, 4, 4)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 17, dim))
        if num_register_tokens:
            self.register_tokens = nn.Parameter(torch.zeros(1, num_register_tokens, dim))
        blocks = [DINOv2Block(dim) for _ in range(depth)]
        if block_chunks > 0:
            size = depth // block_chunks
            self.blocks = nn.ModuleList(
                nn.ModuleList([nn.Identity()] * start + blocks[start:start + size])
                for start in range(0, depth, size))
        else:
            self.blocks = nn.ModuleList(blocks)
        self.norm = nn.LayerNorm(dim)
        self.mask_token = nn.Parameter(torch.zeros(1, dim))


class DINOv2Segmentor(nn.Module):
    """A DINOv2 backbone under mmseg's ``FCNHead``."""

    def __init__(self, depth: int = 8, dim: int = 8, block_chunks: int = 0,
                 num_register_tokens: int = 0) -> None:
        super().__init__()
        from mmseg.models.decode_heads import FCNHead
        self.backbone = DINOv2ViT(depth, dim, block_chunks, num_register_tokens)
        self.decode_head = FCNHead(in_channels=dim, channels=dim, num_convs=1, num_classes=3)


# --- OmniDrive --------------------------------------------------------------------------------
# NVlabs/OmniDrive projects/mmdet3d_plugin/models/detectors/petr3d.py (Petr3D on mmdet3d's
# MVXTwoStageDetector), projects/configs/OmniDrive/eva_base_tinyllama.py (TinyLLaMA trained) and
# mask_eva_lane_det_vlm.py (EVA-L, 24 blocks; the LLM with LoRA).

class MLN(nn.Module):
    """OmniDrive's ``MLN`` (``models/utils/misc.py``): ``reduce``, ``gamma``, ``beta``, ``ln``."""

    def __init__(self, c_dim: int, f_dim: int = 8) -> None:
        super().__init__()
        self.reduce = nn.Sequential(nn.Linear(c_dim, f_dim), nn.ReLU())
        self.gamma = nn.Linear(f_dim, f_dim)
        self.beta = nn.Linear(f_dim, f_dim)
        self.ln = nn.LayerNorm(f_dim, elementwise_affine=False)


class StreamPETRHead(nn.Module):
    """``StreamPETRHead``'s own parameters; ``cls_branches`` / ``reg_branches`` repeat one module
    (the published head builds them with ``[fc_cls for _ in range(num_pred)]``)."""

    def __init__(self, dim: int = 8, num_pred: int = 3) -> None:
        super().__init__()
        self.input_projection = nn.Linear(dim, dim)
        self.reference_points = nn.Embedding(6, 3)
        self.query_embedding = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.transformer = nn.Module()
        self.transformer.layers = nn.ModuleList(nn.Linear(dim, dim) for _ in range(2))
        self.transformer.norm = nn.LayerNorm(dim)
        fc_cls = nn.Sequential(nn.Linear(dim, dim), nn.LayerNorm(dim), nn.Linear(dim, 10))
        reg = nn.Sequential(nn.Linear(dim, dim), nn.Linear(dim, 10))
        self.cls_branches = nn.ModuleList(fc_cls for _ in range(num_pred))
        self.reg_branches = nn.ModuleList(reg for _ in range(num_pred))


class EVAViT(nn.Module):
    """OmniDrive's ``EVAViT`` (``models/backbones/eva_vit.py``, ViTDet-style): ``patch_embed``,
    ``pos_embed``, ``blocks.N``."""

    def __init__(self, depth: int = 3, dim: int = 8) -> None:
        super().__init__()
        self.pos_embed = nn.Parameter(torch.zeros(1, 17, dim))
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, dim, 4, 4)
        self.blocks = nn.ModuleList()
        for _ in range(depth):
            block = nn.Module()
            block.norm1 = nn.LayerNorm(dim)
            block.attn = nn.Module()
            block.attn.qkv = nn.Linear(dim, 3 * dim)
            block.attn.proj = nn.Linear(dim, dim)
            block.norm2 = nn.LayerNorm(dim)
            block.mlp = nn.Module()
            block.mlp.w12 = nn.Linear(dim, 2 * dim)
            block.mlp.w3 = nn.Linear(dim, dim)
            self.blocks.append(block)


class TinyLlama(nn.Module):
    """``LlavaLlamaForCausalLM`` names: ``model.embed_tokens``, ``model.layers.N``,
    ``model.norm``, ``lm_head``."""

    def __init__(self, dim: int = 8, depth: int = 2) -> None:
        super().__init__()
        self.model = nn.Module()
        self.model.embed_tokens = nn.Embedding(32, dim)
        self.model.layers = nn.ModuleList()
        for _ in range(depth):
            layer = nn.Module()
            layer.self_attn = nn.Module()
            for name in ('q_proj', 'k_proj', 'v_proj', 'o_proj'):
                setattr(layer.self_attn, name, nn.Linear(dim, dim, bias=False))
            layer.mlp = nn.Module()
            for name in ('gate_proj', 'up_proj', 'down_proj'):
                setattr(layer.mlp, name, nn.Linear(dim, dim, bias=False))
            layer.input_layernorm = nn.Module()
            layer.input_layernorm.weight = nn.Parameter(torch.ones(dim))
            layer.post_attention_layernorm = nn.Module()
            layer.post_attention_layernorm.weight = nn.Parameter(torch.ones(dim))
            self.model.layers.append(layer)
        self.model.norm = nn.Module()
        self.model.norm.weight = nn.Parameter(torch.ones(dim))
        self.lm_head = nn.Linear(dim, 32, bias=False)


class LoRALinear(nn.Module):
    """PEFT's LoRA layer names: the frozen ``base_layer`` and the trained ``lora_A.default`` /
    ``lora_B.default``."""

    def __init__(self, dim: int, rank: int = 2) -> None:
        super().__init__()
        self.base_layer = nn.Linear(dim, dim, bias=False).requires_grad_(False)
        self.lora_A = nn.ModuleDict({'default': nn.Linear(dim, rank, bias=False)})
        self.lora_B = nn.ModuleDict({'default': nn.Linear(rank, dim, bias=False)})


class LoRATinyLlama(nn.Module):
    """OmniDrive's ``load_model(..., use_lora=True)``: the LLM under PEFT's ``base_model.model``,
    frozen but for LoRA on the attention projections."""

    def __init__(self, dim: int = 8, depth: int = 2) -> None:
        super().__init__()
        llama = TinyLlama(dim, depth).requires_grad_(False)
        for layer in llama.model.layers:
            for name in ('q_proj', 'v_proj'):
                setattr(layer.self_attn, name, LoRALinear(dim))
        self.base_model = nn.Module()
        self.base_model.model = llama


class Petr3D(nn.Module):
    """OmniDrive's ``Petr3D`` in registration order: mmdet3d's ``MVXTwoStageDetector`` builds
    ``pts_bbox_head`` before ``img_backbone``; ``Petr3D`` then adds ``query_pos``,
    ``time_embedding`` and ``ego_pose_pe`` and hands the same modules to ``pts_bbox_head`` and
    ``map_head`` (so their tensors are first reached as ``pts_bbox_head.query_pos.*``), the
    frozen ``position_range`` / ``coords_d``, ``position_encoder`` and the LLM as ``lm_head``."""

    def __init__(self, depth: int = 3, dim: int = 8, with_lm_head: bool = True,
                 lora: bool = False) -> None:
        super().__init__()
        self.pts_bbox_head = StreamPETRHead(dim)
        self.img_backbone = EVAViT(depth, dim)
        self.query_pos = nn.Sequential(nn.Linear(12, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.time_embedding = nn.Sequential(nn.Linear(dim, dim), nn.LayerNorm(dim))
        self.ego_pose_pe = MLN(15, dim)
        self.map_head = StreamPETRHead(dim)
        for head in (self.pts_bbox_head, self.map_head):
            head.query_pos = self.query_pos
            head.time_embedding = self.time_embedding
            head.ego_pose_pe = self.ego_pose_pe
        self.position_range = nn.Parameter(torch.zeros(6), requires_grad=False)
        self.coords_d = nn.Parameter(torch.zeros(4), requires_grad=False)
        self.position_encoder = nn.Sequential(nn.Linear(12, dim), nn.ReLU(), nn.Linear(dim, dim))
        if with_lm_head:
            self.lm_head = LoRATinyLlama(dim) if lora else TinyLlama(dim)
