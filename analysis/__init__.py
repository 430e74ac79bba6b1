"""Offline analysis: load the users' CSV exports, learn what normal is, write thresholds and a report.

Also a seeded generator of synthetic data with labelled incidents (``analysis.synthetic``) and
a detection-quality evaluation that replays it through the real engine (``analysis.evaluate``).
"""
