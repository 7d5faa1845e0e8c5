"""Judging samples against real data: histogram divergences, the classifier, feature metrics, the scorecard,
the ladder, the toy's measures, and the registry that describes every metric once."""
