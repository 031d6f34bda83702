"""zephyr-logscan: log forensics for zephyr coordinator incidents on Ray."""

from zephyr_logscan.synth import SynthConfig, synthesize

__all__ = ["SynthConfig", "synthesize"]
__version__ = "0.1.0"
