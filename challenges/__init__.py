"""The built-in challenges, installed as package data: one folder per challenge (its
``challenge.yaml``, brief, workspace, hidden material, solution and image recipe). Nothing here
is imported; the runner finds the folders through ``importlib.resources``."""
