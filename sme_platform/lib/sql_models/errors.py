"""Errors of the SQL model stage."""

from sme_platform.lib.config.problems import ConfigurationError


class ModelGraphError(ConfigurationError):
    """The SQL models cannot form a graph: one line per problem, naming the file and the table
    or header key."""
