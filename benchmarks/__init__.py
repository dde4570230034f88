"""Side-by-side benchmarks: our pipeline beside what a user would build by hand with the same
tools, measured in one run on one machine so the ratios hold on a noisy box.

`python -m benchmarks` (make bench) runs the full sizes, `--quick` (make bench-quick) the small
ones; both print one table and write benchmarks/results.json.
"""
