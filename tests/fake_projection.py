"""A stand-in for UMAP in the map step's tests that a worker process imports cheaply (numpy
only): the first two coordinates, and a planted fault for vectors all above 100."""
import numpy as np


def first_two(vectors: np.ndarray, seed: int) -> np.ndarray:
    if vectors[:, 0].min() > 100:
        raise ValueError("planted fault")
    return np.asarray(vectors[:, :2], dtype=np.float32)


def exits_in_a_worker(vectors: np.ndarray, seed: int) -> np.ndarray:
    """`first_two`, except that a worker process running it dies at once (as a killed one would)."""
    import multiprocessing
    import os

    if multiprocessing.parent_process() is not None:
        os._exit(1)
    return first_two(vectors, seed)
