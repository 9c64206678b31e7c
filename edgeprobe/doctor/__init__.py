"""``edgeprobe doctor``: whether this device is ready to probe, and how to fix what is not.

One module per family of checks; each check returns a ``Check`` with a status and, unless it
passed, a fix. Nothing here imports torch: the checks that need it run a probe worker process,
so a broken CUDA build costs that check, not the doctor.
"""
