"""Print the ```bash blocks of a Markdown file, in order, as one shell script.

They run in one shell, as a reader typing them in one terminal would (an activated virtualenv
stays active for the next block). Each block is announced before it runs.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

_BLOCK = re.compile(r"^```bash\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


def main(path: str) -> int:
    blocks = _BLOCK.findall(Path(path).read_text(encoding="utf-8"))
    if not blocks:
        print(f"{path}: no ```bash blocks", file=sys.stderr)
        return 1
    for number, block in enumerate(blocks, 1):
        print(f"printf '\\n--- %s, shell block %d\\n' {shlex.quote(path)} {number}")
        print(block, end="" if block.endswith("\n") else "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
