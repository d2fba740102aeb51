"""Benchmarks: how fast multilogue answers, measured against a raw matrix-nio client.

One command runs them all::

    .venv/bin/python -m bench [--quick] [--json FILE] [--only NAME...]

It starts a throwaway Synapse on 127.0.0.1 (in a temporary folder, in-memory database,
presence off, rate limits lifted for every bench account), then runs each benchmark, prints a
table with the machine it ran on, and with `--json FILE` writes every figure (raw samples
included). `--list` names the benchmarks; `--quick` shrinks every size for a smoke test;
`--probes/--warmup/--rooms/--rounds/--votes/--runs` set sizes one by one; `--profile DIR`
runs the bots under cProfile; `--keep` keeps the work folder (Synapse and bot logs).

Every benchmark over the homeserver runs two arms in the same run, interleaved: the floor
(`bench/raw_echo.py`, a raw matrix-nio client with no framework, in a process of its own) and
multilogue (the real `Bot`, run as `python -m bot run --env-file`, encryption on, in a process
of its own). The measuring client (`bench/prober.py`) is the same code for both, in the
harness's process.

Layout: `cli` (the command), `context` (homeserver, accounts, bots, probers for benchmarks),
`registry` (benchmarks as data, results), `benchmarks/` (one module per kind; the list of
benchmarks and how to add one is in `bench/benchmarks/__init__.py`), `report` (table, JSON),
`processes`, `prober`, `raw_echo`, `inprocess` (the bot's own code at scale, timed in a process
of its own: `scale.*`), `stats`, `machine`.
"""
