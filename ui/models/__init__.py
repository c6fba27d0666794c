"""Qt item models over the capture."""
