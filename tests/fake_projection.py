"""A stand-in for UMAP in the map step's tests that a worker process imports cheaply (numpy
only): the first two coordinates, and a planted fault for vectors all above 100."""
import numpy as np


def first_two(vectors: np.ndarray, seed: int) -> np.ndarray:
    if vectors[:, 0].min() > 100:
        raise ValueError("planted fault")
    return np.asarray(vectors[:, :2], dtype=np.float32)
