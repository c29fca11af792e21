import sys

from codesvc.cli import main

sys.exit(main())
