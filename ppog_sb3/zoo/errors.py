"""The one exception type of the zoo integration that ``ppog-zoo`` prints as a single line."""


class ZooError(Exception):
    """A user error (bad config, bad flag, unreachable storage): ``ppog-zoo`` prints its message as one line."""
