"""Model configs: `configs/<model>.py[:variant]`, read by experiments/train.py."""
