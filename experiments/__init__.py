"""Experiments: plan files (experiments/*.yaml) and the runner that runs every workload of a plan at once,
into one run dir and one report (`python -m experiments run PLAN`, `make experiment PLAN=...`)."""
