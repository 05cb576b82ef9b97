"""The one exception type for user mistakes: the CLI and the explorer print its message as is."""


class UserError(ValueError):
    """Bad input from a user (model, class, seed, file, ...). Its message is shown verbatim."""
