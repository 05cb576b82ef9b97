"""Export page of the explorer; its body is regionprims/ui/export.py (run through app.py)."""
from regionprims.ui import shell

shell.page("export")
