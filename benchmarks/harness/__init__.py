"""The one harness every benchmark runs on.

- :mod:`~benchmarks.harness.machine`: what a run ran on (date, CPU, threads, versions), threads set once;
- :mod:`~benchmarks.harness.problems`: the problem registry (spaces, budgets, optima, shifts, noise);
- :mod:`~benchmarks.harness.peers`: asktell loops and peer optimizers behind one ask/tell interface;
- :mod:`~benchmarks.harness.priors`: the priors benchmark's problems, good and misleading priors, methods;
- :mod:`~benchmarks.harness.runner`: cells of (problem, method, seed), one JSONL record per run, resume;
- :mod:`~benchmarks.harness.report`: median/IQR statistics, markdown tables, goal lines and plots;
- :mod:`~benchmarks.harness.suite`: the common benchmark (problems x methods x seeds, scored by regret),
  whose ``main`` is a whole script.

Nothing here imports torch at import time except ``problems`` and ``peers``: a script sets its thread
count (:func:`machine.set_threads`) before it imports them.
"""
