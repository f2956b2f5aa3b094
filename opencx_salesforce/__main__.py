"""``python -m opencx_salesforce``: the same command line as ``opencx-salesforce``,
for environments where the console script is not on PATH."""

import sys

from opencx_salesforce.cli import main

sys.exit(main())
