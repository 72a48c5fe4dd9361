"""Data the process judge learns from: synthetic processes with injected faults, real
drawing orders (Sheep Market), a real painting time-lapse (Inverse Painting) and
AGIQA-3K's prompt-alignment scores. See docs/process.md."""
