"""Go's text/tabwriter, as docker/cli configures and patches it.

Docker renders tables with NewWriter(out, minwidth=10, tabwidth=1,
padding=3, padchar=' ', flags=0) and its fork measures cells in terminal
columns (East Asian wide runes count 2). Cells are tab-*terminated*: the
text after a line's last tab is not part of a column and is never padded.
A column is a run of adjacent lines that all have a cell in it; its width
is the widest cell plus padding, at least minwidth.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TabWriter:
    minwidth: int = 10
    tabwidth: int = 1
    padding: int = 3
    padchar: str = " "

    def format(self, text: str) -> str:
        lines = [_split_cells(line) for line in text.replace("\f", "\n").split("\n")]
        out: list[str] = []
        self._format(lines, 0, len(lines), [], out)
        # every line but the last ended with a newline in the input
        return "\n".join(out)

    def _format(self, lines, line0: int, line1: int, widths: list[int], out: list[str]) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            # lines[line0:this] have no cell in this column: print them as they are
            self._write(lines, line0, this, widths, out)
            line0 = this
            width = self.minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, _width(lines[this][column]) + self.padding)
                this += 1
            self._format(lines, line0, this, widths + [width], out)
            line0 = this
        self._write(lines, line0, line1, widths, out)

    def _write(self, lines, line0: int, line1: int, widths: list[int], out: list[str]) -> None:
        for cells in lines[line0:line1]:
            parts = []
            for j, cell in enumerate(cells):
                parts.append(cell)
                if j < len(widths):
                    parts.append(self.padchar * (widths[j] - _width(cell)))
            out.append("".join(parts))


def _split_cells(line: str) -> list[str]:
    return line.replace("\v", "\t").split("\t")


def _width(cell: str) -> int:
    if cell.isascii():
        return len(cell)
    import unicodedata  # only for non-ASCII cells

    width = 0
    for c in cell:
        if unicodedata.combining(c):
            continue
        width += 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1
    return width


DOCKER = TabWriter()
