"""The benchmark: data generator, lean C-FIND client, load runner, and the scripts that print results.

Run its scripts as modules from the repository, e.g. ``.venv/bin/python -m bench.run``; they start
Orthanc with the test suite's own launcher (``tests.support.servers``).
"""
