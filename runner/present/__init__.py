"""Presentation: the verdict for people, plots, the HTML report, doc figures."""
