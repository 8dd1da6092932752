"""Summarise a finished demo run: where its files are, its final metric, and a trivial baseline.

    python tools/demo_summary.py {seg,det,cls} WORK_DIR DATA_ROOT [--inspect-dir DIR]

Baselines, from the validation annotations only:

- ``seg``: a model that predicts the majority class (by pixel count) everywhere; its mIoU is
  computed as mmseg's ``IoUMetric`` does (dataset-wide intersection over union per class, mean
  over the classes present).
- ``det``: a model that knows only the average box of each class on the training set: on every
  validation image it predicts, for each class, that box (and a box-shaped mask) with score 1;
  COCO bbox / segm mAP from pycocotools, as ``CocoMetric`` reports them.
- ``cls``: always predicting the most frequent class (top-1 accuracy).

Exits with status 1 when the run's metric is not above the baseline.
"""
import argparse
import contextlib
import glob
import io
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional, Tuple

import numpy as np


def latest_run(work_dir: str) -> str:
    """The newest ``<timestamp>`` folder MMEngine created in ``work_dir``."""
    runs = sorted(path for path in glob.glob(osp.join(work_dir, '*'))
                  if osp.isdir(path) and osp.exists(osp.join(path, 'vis_data', 'scalars.json')))
    if not runs:
        raise SystemExit(f'no finished run (vis_data/scalars.json) under {work_dir}')
    return runs[-1]


def last_scalars(run: str, key: str) -> Dict[str, float]:
    """The last record of ``vis_data/scalars.json`` that holds ``key``."""
    found: Dict[str, float] = {}
    with open(osp.join(run, 'vis_data', 'scalars.json')) as file:
        for line in file:
            record = json.loads(line)
            if key in record:
                found = record
    if not found:
        raise SystemExit(f'{run}/vis_data/scalars.json has no {key!r}: did validation run?')
    return found


def checkpoint_path(work_dir: str) -> Optional[str]:
    """The last checkpoint, written like ``work_dir`` (MMEngine's ``last_checkpoint`` marker
    holds an absolute path; a checkpoint inside ``work_dir`` is shown under ``work_dir`` as given,
    like every other path of the summary)."""
    marker = osp.join(work_dir, 'last_checkpoint')
    if not osp.exists(marker):
        return None
    with open(marker) as file:
        path = file.read().strip()
    if osp.dirname(osp.abspath(path)) == osp.abspath(work_dir):
        return osp.join(work_dir, osp.basename(path))
    return path


def seg_baseline(data_root: str) -> Tuple[float, str]:
    import cv2
    paths = sorted(glob.glob(osp.join(data_root, 'annotations', 'validation', '*.png')))
    if not paths:
        raise SystemExit(f'no validation annotations under {data_root}/annotations/validation')
    counts = np.zeros(256, np.int64)
    for path in paths:
        counts += np.bincount(cv2.imread(path, cv2.IMREAD_UNCHANGED).reshape(-1), minlength=256)
    counts[255] = 0  # mmseg's ignore index
    majority = int(counts.argmax())
    present = np.flatnonzero(counts)
    # Predicting `majority` everywhere: IoU = its share of the pixels for it, 0 for the others.
    miou = counts[majority] / counts.sum() / len(present) * 100
    return float(miou), f'always class {majority} ({len(present)} classes present)'


def cls_baseline(data_root: str) -> Tuple[float, str]:
    folder = osp.join(data_root, 'val')
    counts = {name: len(os.listdir(osp.join(folder, name))) for name in sorted(os.listdir(folder))
              if osp.isdir(osp.join(folder, name))}
    if not counts:
        raise SystemExit(f'no class folders under {folder}')
    majority = max(counts, key=counts.get)
    return counts[majority] / sum(counts.values()) * 100, f'always {majority!r}'


def det_baseline(data_root: str) -> Tuple[Dict[str, float], str]:
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    with contextlib.redirect_stdout(io.StringIO()):
        train = COCO(osp.join(data_root, 'annotations', 'instances_train.json'))
        val = COCO(osp.join(data_root, 'annotations', 'instances_val.json'))
    mean_box = {}
    for cat_id in train.getCatIds():
        boxes = np.array([ann['bbox'] for ann in train.loadAnns(train.getAnnIds(catIds=[cat_id]))])
        mean_box[cat_id] = boxes.mean(axis=0).tolist()
    results: List[dict] = []
    for image in val.loadImgs(val.getImgIds()):
        height, width = image['height'], image['width']
        for cat_id, (x, y, w, h) in mean_box.items():
            mask = np.zeros((height, width), np.uint8, order='F')
            mask[int(y):int(np.ceil(y + h)), int(x):int(np.ceil(x + w))] = 1
            rle = mask_utils.encode(np.asfortranarray(mask))
            rle['counts'] = rle['counts'].decode()
            results.append(dict(image_id=image['id'], category_id=cat_id, bbox=[x, y, w, h],
                                score=1.0, segmentation=rle))
    scores = {}
    with contextlib.redirect_stdout(io.StringIO()):
        for iou_type in ('bbox', 'segm'):
            evaluator = COCOeval(val, val.loadRes(results), iou_type)
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
            scores[f'coco/{iou_type}_mAP'] = float(evaluator.stats[0])
    return scores, 'the mean training box of every class on every image'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Summarise a demo run against a trivial baseline')
    parser.add_argument('task', choices=['seg', 'det', 'cls'])
    parser.add_argument('work_dir')
    parser.add_argument('data_root')
    parser.add_argument('--inspect-dir', help="where tools/analysis_tools/param_groups.py wrote "
                        "its figures (default: WORK_DIR/param_groups)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    run = latest_run(args.work_dir)
    stamp = osp.basename(run)
    inspect_dir = args.inspect_dir or osp.join(args.work_dir, 'param_groups')
    files = [
        ('log', osp.join(run, f'{stamp}.log')),
        ('scalars', osp.join(run, 'vis_data', 'scalars.json')),
        ('checkpoint', checkpoint_path(args.work_dir) or osp.join(args.work_dir, '(none)')),
        ('param_groups.json', osp.join(args.work_dir, 'param_groups.json')),
        ('lr_by_layer.png', osp.join(inspect_dir, 'lr_by_layer.png')),
        ('lr_schedule.png', osp.join(inspect_dir, 'lr_schedule.png')),
    ]
    print(f'== {args.task} demo: {args.work_dir}')
    for label, path in files:
        print(f'  {label:<18} {path}{"" if osp.exists(path) else "  (MISSING)"}')
    if args.task == 'seg':
        metrics = {'mIoU': last_scalars(run, 'mIoU')['mIoU']}
        baseline, how = seg_baseline(args.data_root)
        baselines = {'mIoU': baseline}
    elif args.task == 'cls':
        metrics = {'accuracy/top1': last_scalars(run, 'accuracy/top1')['accuracy/top1']}
        baseline, how = cls_baseline(args.data_root)
        baselines = {'accuracy/top1': baseline}
    else:
        record = last_scalars(run, 'coco/bbox_mAP')
        metrics = {key: record[key] for key in ('coco/bbox_mAP', 'coco/segm_mAP')}
        baselines, how = det_baseline(args.data_root)
    better = True
    for key, value in metrics.items():
        print(f'  final {key:<14} {value:8.3f}   baseline ({how}): {baselines[key]:8.3f}')
        better &= value > baselines[key]
    print(f'  {"above" if better else "NOT above"} the baseline')
    return 0 if better else 1


if __name__ == '__main__':
    sys.exit(main())
