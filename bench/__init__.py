"""`make bench`: oai-images side by side with the official `openai` client and raw httpx, in one run.

Every figure is a ratio measured in the same run on the same machine; `bench/RESULTS.md` is rewritten by
each run. Nothing here is a test: the suite only smoke-runs these scripts with tiny counts.
"""
