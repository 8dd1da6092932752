"""The environment is the real OpenMMLab stack, at the pinned versions, with mmcv's compiled ops."""
import re
from importlib.metadata import version
from pathlib import Path

import pytest
import torch

REQUIREMENTS = Path(__file__).resolve().parents[1] / 'requirements'


def pinned_versions():
    pins = {}
    for path in sorted(REQUIREMENTS.glob('*.txt')):
        for line in path.read_text().splitlines():
            match = re.match(r'^([A-Za-z0-9_.\-]+)={2,3}([^\s#;]+)', line.strip())
            if match:
                pins[match.group(1)] = match.group(2)
    return pins


@pytest.mark.parametrize('package', ['torch', 'torchvision', 'mmengine', 'mmcv', 'mmdet',
                                     'mmsegmentation', 'mmpretrain'])
def test_the_openmmlab_stack_is_pinned(package):
    assert package in pinned_versions()


@pytest.mark.parametrize('package,pinned', sorted(pinned_versions().items()))
def test_installed_version_equals_pin(package, pinned):
    assert version(package) == pinned


def test_model_packages_import():
    import mmdet.models  # noqa: F401
    import mmpretrain.models  # noqa: F401
    import mmseg.models  # noqa: F401


def test_mmcv_is_the_full_build_not_lite():
    from importlib.metadata import PackageNotFoundError
    import mmcv._ext  # noqa: F401  (the compiled ops)
    with pytest.raises(PackageNotFoundError):
        version('mmcv-lite')


def test_mmcv_nms_runs_on_cpu():
    from mmcv.ops import nms
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    dets, keep = nms(boxes, scores, iou_threshold=0.5)
    assert keep.tolist() == [0, 2]
    assert dets.shape == (2, 5)


def test_mmcv_roi_align_runs_on_cpu():
    from mmcv.ops import RoIAlign
    # f(y, x) = 4y + x; bilinear sampling of a linear ramp is exact, so each 1.5-pixel bin of the
    # RoI [0, 3] x [0, 3] averages to f at its mean sample point (0.75 or 2.25 per axis)
    features = torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4)
    rois = torch.tensor([[0., 0., 0., 3., 3.]])
    out = RoIAlign(output_size=(2, 2), spatial_scale=1.0, sampling_ratio=2,
                   aligned=False)(features, rois)
    assert out.shape == (1, 1, 2, 2)
    assert torch.allclose(out.flatten(), torch.tensor([3.75, 5.25, 9.75, 11.25]))


def test_torch_runs_on_the_cpu_build_from_the_registry():
    assert torch.__version__.split('+')[0] == '2.13.0'
    assert '+cpu' not in torch.__version__
