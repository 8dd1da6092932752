"""Packaging for mmcv_custom: layer-wise learning-rate decay for OpenMMLab 2.x."""
import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def read_version() -> str:
    text = (HERE / 'mmcv_custom' / 'version.py').read_text()
    return re.search(r"__version__ = '([^']+)'", text).group(1)


setup(
    name='mmcv_custom',
    version=read_version(),
    description='Layer-wise learning-rate decay optimizer constructors for OpenMMLab 2.x '
    '(MMEngine, MMCV, MMSegmentation, MMDetection, MMPretrain)',
    long_description=(HERE / 'README.md').read_text() if (HERE / 'README.md').exists() else '',
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.8',
    packages=find_packages(include=['mmcv_custom', 'mmcv_custom.*']),
    package_data={'mmcv_custom': ['py.typed']},
    # `import mmcv_custom` needs only these; mmdet / mmseg / mmpretrain are optional integrations.
    install_requires=['torch>=1.13', 'mmengine>=0.10.0'],
    extras_require={
        'openmmlab': ['mmcv>=2.0.0,<2.2.0', 'mmdet>=3.0.0', 'mmsegmentation>=1.0.0',
                      'mmpretrain>=1.0.0'],
        'plots': ['matplotlib'],
    },
    classifiers=[
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
    zip_safe=False,
)
