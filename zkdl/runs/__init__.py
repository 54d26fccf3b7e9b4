"""How a long run is proven: the memory planner (``planner``), chunking, the run manifest, the Ray executor."""
