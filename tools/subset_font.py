"""Cut Noto Sans CJK SC Regular down to the characters a bureau's figures use: crm/fonts/.

    .venv/bin/python tools/subset_font.py path/to/NotoSansCJKsc-Regular.otf

Keeps ASCII, the CJK Unified Ideographs block (U+4E00–U+9FFF), every symbol and punctuation
mark of GB2312, CJK punctuation (U+3000–U+303F), the full-width forms (U+FF00–U+FFEF) and a
few marks ledgers use (– — − ✓ ✔ ✗ √ …). The layout features and names stay, hinting goes
(matplotlib and browsers do not need it). The result replaced the 103 MB mplfonts package.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from fontTools import subset

TARGET = Path(__file__).resolve().parent.parent / "crm" / "fonts" / "NotoSansCJKsc-Regular-subset.otf"


def characters() -> set[str]:
    chars = {chr(c) for c in range(0x20, 0x7F)}
    chars |= {chr(c) for c in range(0x4E00, 0xA000)}
    chars |= {chr(c) for c in range(0x3000, 0x3040)} | {chr(c) for c in range(0xFF00, 0xFFF0)}
    for high in range(0xA1, 0xF8):  # GB2312: symbols (A1-A9 rows) and the 6,763 hanzi (B0-F7)
        for low in range(0xA1, 0xFF):
            with contextlib.suppress(UnicodeDecodeError):
                chars.add(bytes([high, low]).decode("gb2312"))
    chars |= set("−✓✔✗√–—‘’“”…·×÷≥≤±%‰℃№→←↑↓●○■□▲△◆◇★☆")
    return chars


def main(source: str) -> None:
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    font = subset.load_font(source, options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(ord(c) for c in characters()))
    subsetter.subset(font)
    subset.save_font(font, str(TARGET), options)
    print(f"wrote {TARGET} ({TARGET.stat().st_size:,} bytes)")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
