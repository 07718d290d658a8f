import sys

from k3srt.cli import main

sys.exit(main())
