"""``python -m ppog_sb3.zoo COMMAND ...``: the same as the ``ppog-zoo`` console script."""

import sys

from ppog_sb3.zoo.cli import main

if __name__ == "__main__":
    sys.exit(main())
