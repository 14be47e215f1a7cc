"""Test-wide settings: one torch thread per worker (pytest -n 2 on 2 cores), quiet BoTorch."""

import torch

torch.set_num_threads(1)
