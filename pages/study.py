"""Study page of the explorer; its body is regionprims/ui/study.py (run through app.py)."""
from regionprims.ui import shell

shell.page("study")
