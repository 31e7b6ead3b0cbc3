"""A/B metrics: prune correlated metrics to one representative per group, and
the detection power a true effect keeps under Bonferroni and Benjamini-Hochberg
as the number of metrics grows."""
