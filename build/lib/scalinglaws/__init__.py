"""scalinglaws: the shared package of the executable scaling-law book.

One module per role:

* :mod:`scalinglaws.config`   -- modes (fast/full), device, dtype policy, seeds, chapter-config base class
* :mod:`scalinglaws.data`     -- data generators (targets, teachers, manifolds, benchmark loaders)
* :mod:`scalinglaws.models`   -- batched MLPs and other models
* :mod:`scalinglaws.train`    -- one trainer for M independent networks at once
* :mod:`scalinglaws.fit`      -- power-law, offset, bootstrap and broken-power-law fitters
* :mod:`scalinglaws.plotting` -- the book's figure style and scaling-plot helpers
* :mod:`scalinglaws.cache`    -- on-disk cache of experiment results and committed full-mode results
* :mod:`scalinglaws.experiments` -- one module per chapter, each with ``run(config) -> result``
"""
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("scalinglaws")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
