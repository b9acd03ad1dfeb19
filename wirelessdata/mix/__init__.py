"""Pretraining mixtures: specs -> frozen manifests -> a deterministic, resumable PyTorch stream."""
