"""`python -m netembench` (and `torchrun ... -m netembench zoo build`): the command line."""

import sys

from netembench.cli import main

sys.exit(main())
