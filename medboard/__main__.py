import sys

from medboard.cli.main import main

sys.exit(main())
