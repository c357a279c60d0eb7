"""Configuration files: their pydantic models, their problems as one line each, the check."""
