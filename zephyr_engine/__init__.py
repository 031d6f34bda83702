"""zephyr_engine: the corrected zephyr coordinator/worker engine."""
