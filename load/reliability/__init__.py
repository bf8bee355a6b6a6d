"""The reliability suite's shared parts: the demo stack on free ports, bounded load, probes and the fuzzer.

`load/bench_reliability.py` measures with them and `tests/integration/reliability/` asserts with them, so a
figure in docs/promises.md and the test that guards it come from the same code.
"""
