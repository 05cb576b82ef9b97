"""The command line (`regionprims ...`): argument parsing and printing only; the work is done
by the orchestration (`pipeline`) and the layers below. Never imports Streamlit.

commands the parser of every subcommand, main(), one line for any failure; `models` and `cache`
image    `decompose` and `sample`: the commands on one image of a model
files    `info` and `transfer`: the commands that read decomposition files
export   `regionprims export`
study    `regionprims batch` and `regionprims study`
options  the flags several subcommands share (model, image, settings, cache) and reading them
terminal progress on stderr and the metrics table
"""
from regionprims.cli.commands import main

__all__ = ["main"]
