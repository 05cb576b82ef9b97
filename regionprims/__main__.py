import sys

from regionprims.cli.commands import main

sys.exit(main())
