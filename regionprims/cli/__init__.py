"""The command line (`regionprims ...`): argument parsing and printing only; the work is done
by the orchestration (`pipeline`) and the layers below. Never imports Streamlit.

commands the subcommands models, sample, decompose, info, transfer, cache (and the registry of
         the others)
export   `regionprims export`
"""
from regionprims.cli.commands import main

__all__ = ["main"]
