"""Explore page of the explorer; its body is regionprims/ui/explore.py (run through app.py)."""
from regionprims.ui import shell

shell.page("explore")
