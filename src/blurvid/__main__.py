"""``python -m blurvid`` == the ``blurvid`` command."""

import sys

from .cli import main

sys.exit(main())
