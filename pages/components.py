"""Components page of the explorer; its body is regionprims/ui/components.py (run through app.py)."""
from regionprims.ui import shell

shell.page("components")
