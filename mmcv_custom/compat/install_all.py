"""Importing this module installs every fix of :mod:`mmcv_custom.compat` (``install()``).

For upstream tools that build no layer-decay optimizer, e.g. mmseg's ``tools/test.py``::

    custom_imports = dict(imports=['mmcv_custom', 'mmcv_custom.compat.install_all'],
                          allow_failed_imports=False)

``import mmcv_custom`` alone installs nothing; this module exists to be asked for by name.
"""
from . import install

#: The fixes that changed something when this module was first imported.
INSTALLED = install()
