# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A module of the collection's module_utils imported when a filter first uses it, not when its filter file is
imported (controller side only).

Why: to find one filter of a collection, ansible-core imports every filter file of that collection
(plugins/loader.py, Jinja2Loader.get_with_context, which walks the package), in every worker process it forks
for a task on a host, and its collection loader compiles each file from source (no .pyc). With the decisions
imported at the top of each filter file, a task whose template names one filter of labops.dlstack made its worker
compile all of module_utils (about 75 ms on the project's test machine); with them imported on first use, it
compiles the small filter files and the one decision it calls. Measured in bench/fast_rerun.py (bench/README.md).
"""

from __future__ import annotations

import importlib

PACKAGE = 'ansible_collections.labops.dlstack.plugins.module_utils'


class LazyModule:
    """Stands for PACKAGE.<name>; the first attribute read imports it (once per process)."""

    def __init__(self, name):
        self._lazy_name = name
        self._lazy_module = None

    def __getattr__(self, attr):  # only for what the instance itself does not hold: the module's names
        if attr.startswith('_lazy_'):
            raise AttributeError(attr)
        if self._lazy_module is None:
            self._lazy_module = importlib.import_module('%s.%s' % (PACKAGE, self._lazy_name))
        return getattr(self._lazy_module, attr)

    def function(self, name):
        """A function that calls the module's `name` with its arguments, importing the module on the first call (for
        tables of filters that are the decision itself)."""
        def call(*args, **kwargs):
            return getattr(self, name)(*args, **kwargs)
        call.__name__ = call.__qualname__ = name
        call.__doc__ = 'Calls %s.%s.%s (imported on first use).' % (PACKAGE, self._lazy_name, name)
        return call

    def __repr__(self):
        return '<LazyModule %s.%s%s>' % (PACKAGE, self._lazy_name, '' if self._lazy_module else ' (not imported yet)')
