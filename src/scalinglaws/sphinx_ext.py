"""A Sphinx extension for the book: no page is rendered from outputs of old package code.

``jb build`` keys its execution cache on a page's code cells, so after an edit under
``src/scalinglaws/`` it would render the old outputs.  Listed in ``_config.yml``
(``sphinx: extra_extensions``), this clears that cache before the build whenever the package's
source changed since the cache was filled (:func:`scalinglaws.cache.guard_execution_cache`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def _guard(app: Any, config: Any) -> None:
    from .cache import guard_execution_cache

    # MyST-NB's own rule: the configured path as given, else <output dir>/../.jupyter_cache
    path = getattr(config, "nb_execution_cache_path", "")
    p = Path(path) if path else Path(app.outdir).parent / ".jupyter_cache"
    app.scalinglaws_stale = guard_execution_cache(p)
    if app.scalinglaws_stale:
        print(f"scalinglaws: the package changed since {p} was filled; every page re-executes")


def _reread_all(app: Any, env: Any, added: Any, changed: Any, removed: Any) -> list[str]:
    """Sphinx re-reads only pages whose source changed; after a package edit, all of them."""
    return sorted(env.found_docs) if getattr(app, "scalinglaws_stale", False) else []


def setup(app: Any) -> dict[str, Any]:
    # the pages' kernels inherit this environment: a bare `jb build .` embeds no progress bars
    # (a value set by the caller, e.g. BOOK_PROGRESS=1, is kept)
    os.environ.setdefault("BOOK_PROGRESS", "0")
    app.connect("config-inited", _guard, priority=100)
    app.connect("env-get-outdated", _reread_all)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
