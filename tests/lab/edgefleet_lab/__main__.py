import sys

from edgefleet_lab.cli import main

sys.exit(main())
