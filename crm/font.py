"""The bundled Chinese font, so that every chart renders Chinese on a machine without CJK fonts.

``crm/fonts/NotoSansCJKsc-Regular-subset.otf`` is Noto Sans CJK SC Regular (SIL Open Font
License 1.1, ``crm/fonts/OFL-1.1.txt``) cut down by ``tools/subset_font.py`` to ASCII, the
CJK Unified Ideographs block (U+4E00–U+9FFF, every common and most rare characters), the
symbols and punctuation of GB2312 and the full-width forms: 9 MB instead of the 16 MB file.

``import crm`` calls :func:`register_when_plotting`: when matplotlib's pyplot is (or gets)
imported, the font is registered and made the sans-serif default, so a plain ``df.plot()``
shows Chinese; the command line, which never plots, does not pay for importing matplotlib.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

FONT_FILE = "NotoSansCJKsc-Regular-subset.otf"

_family: str | None = None


def font_path() -> Path:
    """The bundled font file."""
    return Path(str(resources.files("crm").joinpath("fonts", FONT_FILE)))


def register_font() -> str:
    """Register the bundled font with matplotlib and make it the sans-serif font; returns its family.

    The file is registered once per process; the rcParams are set on every call (cheap), so a
    notebook that reset its style gets Chinese glyphs again.
    """
    import matplotlib
    from matplotlib import font_manager

    global _family
    if _family is None:
        path = str(font_path())
        font_manager.fontManager.addfont(path)
        _family = font_manager.FontProperties(fname=path).get_name()
    matplotlib.rcParams["font.sans-serif"] = [_family, "DejaVu Sans"]
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["axes.unicode_minus"] = False
    return _family


class _AfterPyplot(importlib.abc.MetaPathFinder):
    """Registers the font right after ``matplotlib.pyplot`` has been imported, then steps aside."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        if fullname != "matplotlib.pyplot":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader: Any = spec.loader
        original = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            original(module)
            register_font()

        loader.exec_module = exec_module
        return spec


def register_when_plotting() -> None:
    """Register the font now if pyplot is loaded, else as soon as it is."""
    if "matplotlib.pyplot" in sys.modules:
        register_font()
    elif not any(isinstance(f, _AfterPyplot) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterPyplot())
