"""Faithfulness page of the explorer; its body is regionprims/ui/faithfulness.py (run through app.py)."""
from regionprims.ui import shell

shell.page("faithfulness")
