"""Generate the offline demo data sets: coloured shapes on noisy backgrounds, in standard formats.

- ``seg``: ADE20K-style folders ``images/{training,validation}/*.jpg`` and
  ``annotations/{training,validation}/*.png`` (label 0 background, 1 circle, 2 square,
  3 triangle), read by mmseg's ``BaseSegDataset``.
- ``det``: COCO ``annotations/instances_{train,val}.json`` with polygon masks, images in
  ``{train,val}/*.jpg``, read by mmdet's ``CocoDataset``.
- ``cls``: ImageNet-style class folders ``{train,val}/<class>/*.jpg``, read by mmpretrain's
  ``CustomDataset``.

Each class has its own colour band (jittered) and shape, so a small model learns them in about a
minute on a CPU. The output is the same for the same seed. Usage::

    python tools/make_demo_data.py                     # all three into data/demo/{seg,det,cls}
    python tools/make_demo_data.py --tasks seg --out /tmp/demo --train 16 --val 8
"""
import argparse
import json
import math
import os
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

CLASSES = ('circle', 'square', 'triangle')
#: Mean RGB colour of each class; every shape jitters it.
CLASS_RGB = {'circle': (210, 60, 50), 'square': (50, 190, 70), 'triangle': (60, 80, 220)}
#: Default (image size, train images, val images) per task.
DEFAULTS = {'seg': (64, 240, 48), 'det': (128, 240, 48), 'cls': (32, 300, 90)}
TASKS = tuple(DEFAULTS)
JPEG = [int(cv2.IMWRITE_JPEG_QUALITY), 95]


def background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A grey-ish image with a random tint, a brightness gradient and pixel noise."""
    base = rng.uniform(70, 160) + rng.uniform(-20, 20, size=3)
    ramp = np.linspace(-1, 1, size)[None, :, None] * rng.uniform(-25, 25)
    image = base[None, None, :] + ramp + rng.normal(0, 18, size=(size, size, 3))
    return image


def shape_polygon(rng: np.random.Generator, cls: str, cx: float, cy: float,
                  radius: float) -> np.ndarray:
    """The outline of one shape, ``(N, 2)`` float points (x, y)."""
    if cls == 'circle':
        angles = np.linspace(0, 2 * math.pi, 24, endpoint=False)
    elif cls == 'square':
        angles = np.array([0.25, 0.75, 1.25, 1.75]) * math.pi  # axis-aligned corners
    else:
        angles = rng.uniform(0, 2 * math.pi) + np.array([0, 2, 4]) * math.pi / 3
    return np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], axis=1)


def place_shapes(rng: np.random.Generator, size: int, count: int,
                 min_radius: float, max_radius: float) -> List[Tuple[str, np.ndarray]]:
    """Up to ``count`` shapes whose enclosing discs do not overlap (so masks are exact)."""
    placed: List[Tuple[float, float, float]] = []
    shapes = []
    for _ in range(count * 20):
        if len(shapes) == count:
            break
        radius = rng.uniform(min_radius, max_radius)
        cx, cy = rng.uniform(radius + 1, size - radius - 1, size=2)
        if any(math.hypot(cx - x, cy - y) < radius + r + 2 for x, y, r in placed):
            continue
        placed.append((cx, cy, radius))
        cls = CLASSES[int(rng.integers(len(CLASSES)))]
        shapes.append((cls, shape_polygon(rng, cls, cx, cy, radius)))
    return shapes


def render(rng: np.random.Generator, size: int,
           shapes: Sequence[Tuple[str, np.ndarray]]) -> Tuple[np.ndarray, List[np.ndarray]]:
    """The BGR uint8 image and one boolean mask per shape."""
    image = background(rng, size)
    masks = []
    for cls, polygon in shapes:
        mask = np.zeros((size, size), np.uint8)
        cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
        colour = np.array(CLASS_RGB[cls], float) + rng.uniform(-35, 35, size=3)
        shading = rng.normal(0, 10, size=(size, size, 3))
        image = np.where(mask[..., None] > 0, colour + shading, image)
        masks.append(mask > 0)
    image = np.clip(image, 0, 255).astype(np.uint8)[..., ::-1]  # RGB -> BGR for cv2
    return np.ascontiguousarray(image), masks


def write_image(path: str, image: np.ndarray) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, image, JPEG if path.endswith('.jpg') else []):
        raise OSError(f'cannot write {path}')


def make_seg(root: str, size: int, counts: Dict[str, int], rng: np.random.Generator) -> None:
    for split, count in counts.items():
        folder = 'training' if split == 'train' else 'validation'
        for index in range(count):
            shapes = place_shapes(rng, size, int(rng.integers(1, 4)), size * 0.12, size * 0.28)
            image, masks = render(rng, size, shapes)
            label = np.zeros((size, size), np.uint8)
            for (cls, _), mask in zip(shapes, masks):
                label[mask] = CLASSES.index(cls) + 1
            stem = f'{split}_{index:05d}'
            write_image(osp.join(root, 'images', folder, stem + '.jpg'), image)
            write_image(osp.join(root, 'annotations', folder, stem + '.png'), label)


def make_det(root: str, size: int, counts: Dict[str, int], rng: np.random.Generator) -> None:
    categories = [dict(id=i + 1, name=name) for i, name in enumerate(CLASSES)]
    for split, count in counts.items():
        images, annotations = [], []
        for index in range(count):
            shapes = place_shapes(rng, size, int(rng.integers(1, 4)), size * 0.1, size * 0.25)
            image, masks = render(rng, size, shapes)
            file_name = f'{index:05d}.jpg'
            write_image(osp.join(root, split, file_name), image)
            image_id = index + 1
            images.append(dict(id=image_id, file_name=file_name, width=size, height=size))
            for (cls, polygon), mask in zip(shapes, masks):
                polygon = np.clip(polygon, 0, size - 1)
                x0, y0 = polygon.min(axis=0)
                x1, y1 = polygon.max(axis=0)
                annotations.append(dict(
                    id=len(annotations) + 1, image_id=image_id,
                    category_id=CLASSES.index(cls) + 1, iscrowd=0, area=float(mask.sum()),
                    bbox=[round(float(v), 2) for v in (x0, y0, x1 - x0, y1 - y0)],
                    segmentation=[[round(float(v), 2) for v in polygon.reshape(-1)]]))
        os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
        with open(osp.join(root, 'annotations', f'instances_{split}.json'), 'w') as file:
            json.dump(dict(images=images, annotations=annotations, categories=categories), file)


def make_cls(root: str, size: int, counts: Dict[str, int], rng: np.random.Generator) -> None:
    for split, count in counts.items():
        for index in range(count):
            cls = CLASSES[index % len(CLASSES)]
            radius = rng.uniform(size * 0.22, size * 0.42)
            cx, cy = rng.uniform(radius, size - radius, size=2)
            image, _ = render(rng, size, [(cls, shape_polygon(rng, cls, cx, cy, radius))])
            write_image(osp.join(root, split, cls, f'{index:05d}.jpg'), image)


MAKERS = {'seg': make_seg, 'det': make_det, 'cls': make_cls}


def generate(out: str, tasks: Sequence[str] = TASKS, seed: int = 0, train: Optional[int] = None,
             val: Optional[int] = None) -> Dict[str, str]:
    """Write the demo data of ``tasks`` under ``out/<task>``; returns ``{task: folder}``."""
    folders = {}
    for offset, task in enumerate(TASKS):
        if task not in tasks:
            continue
        size, n_train, n_val = DEFAULTS[task]
        counts = {'train': n_train if train is None else train,
                  'val': n_val if val is None else val}
        folder = osp.join(out, task)
        MAKERS[task](folder, size, counts, np.random.default_rng([seed, offset]))
        folders[task] = folder
    return folders


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default='data/demo', help='output root (default: data/demo)')
    parser.add_argument('--tasks', nargs='+', choices=TASKS, default=list(TASKS))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--train', type=int, help='training images per task (default: per task)')
    parser.add_argument('--val', type=int, help='validation images per task (default: per task)')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    for name in ('train', 'val'):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise SystemExit(f'--{name} must be >= 1, got {value}')
    start = time.perf_counter()
    folders = generate(args.out, args.tasks, args.seed, args.train, args.val)
    for task, folder in folders.items():
        print(f'{task}: {folder}')
    print(f'demo data written in {time.perf_counter() - start:.1f} s')


if __name__ == '__main__':
    main()
