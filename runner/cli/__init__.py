"""The command line interface, ``prodproven``."""
