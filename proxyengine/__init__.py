"""The engine (data plane). Its hot modules may be compiled (``python -m proxyengine.compile``); this makes sure a
compiled module runs only if it was built from the sources beside it, and never with ``PROXYENGINE_PURE=1``: the
``.py`` runs instead (a stale build after an edit would otherwise run old code)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent


class _PureWhenStale:
    """A meta path finder: ``proxyengine.<name>`` from its ``.py`` when its compiled module is stale or unwanted."""

    def __init__(self) -> None:
        self.checked: dict[str, bool] = {}  # module -> its compiled module may be used

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(__name__ + "."):
            return None
        name = fullname[len(__name__) + 1 :]  # "http", "rules.rule", ...
        base = _HERE / name.replace(".", "/")
        if not base.with_suffix(".pxd").exists():
            return None
        use_compiled = self.checked.get(name)
        if use_compiled is None:
            from . import compile as _compile

            use_compiled = self.checked[name] = _compile.fresh(name) or not _compile.extension_path(name).exists()
            if not use_compiled:
                print(f"proxyengine: the compiled {name} is stale (its sources changed): running {name}.py; "
                      "python -m proxyengine.compile rebuilds it", file=sys.stderr)  # fmt: skip
        if use_compiled and not os.environ.get("PROXYENGINE_PURE"):
            return None  # the normal import: the extension module comes before the .py
        source = str(base.with_suffix(".py"))
        return importlib.util.spec_from_file_location(fullname, source, loader=importlib.machinery.SourceFileLoader(
            fullname, source))  # fmt: skip


def is_compiled(module) -> bool:
    """True for a module running from a compiled extension."""
    return not str(getattr(module, "__file__", "")).endswith(".py")


if not any(isinstance(f, _PureWhenStale) for f in sys.meta_path):
    sys.meta_path.insert(0, _PureWhenStale())
