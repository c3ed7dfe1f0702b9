"""``tokengate compare``: the same seeded workload against several gateway configs, each on its own
simulated GPUs, drawn as the tokenomics frontier (cost per 1M output tokens against TTFT, output
tokens/s per GPU against tokens/s per user) with break-even and target-margin prices.

scenario (pure: configs rewritten for simulation) · points (pure: the economics) · run (async:
sims, gateway, sweep) · table / report (files) · cli (the subcommand).
"""
