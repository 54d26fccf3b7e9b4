"""Long runs: a run of T steps as a chain of chunk proofs (``docs/scaling.md``).

Between ``protocol`` (one proof of consecutive steps) and ``api``: ``chunking`` (how many steps a chunk holds),
``manifest`` (``run.json`` and the chain checks), ``prover`` (train once, commit the chunk boundaries, the task of
each chunk), ``executor`` (prove the tasks in this process or on Ray, write each chunk atomically, resume) and
``verify`` (every chunk proof, in parallel, and the chain); ``planner`` estimates the peak memory of one proof
before any work and picks the largest chunk that fits a budget.
"""
