"""Summary of a benchmark's per-round ratios: the median and the min-max. Used by the bench-*-vs-*.sh scripts.
    python3 ratio-summary.py LABEL RATIO...
"""
import statistics, sys

ratios = [float(r) for r in sys.argv[2:]]
print("%s: %.3fx (%.3f-%.3f over %d rounds)" % (sys.argv[1], statistics.median(ratios), min(ratios), max(ratios), len(ratios)))
