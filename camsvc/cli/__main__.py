"""``python -m camsvc.cli``: the same as ``camsvc``."""

from camsvc.cli import main

main()
