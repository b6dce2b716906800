"""Errors the command reports as one line with exit status 2 (bad input), never a traceback."""


class FleetError(Exception):
    """Bad input or a folder that is not what it should be: the message names what and where."""
