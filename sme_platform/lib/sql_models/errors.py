"""Errors of the SQL model stage."""


class ModelGraphError(ValueError):
    """The SQL models cannot form a graph: the message names the file and the table."""
