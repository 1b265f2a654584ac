"""The vocabulary every layer shares: snapshot and diff models, errors, limits, settings."""
