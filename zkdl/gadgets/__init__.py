"""Gadgets of the training proof: sub-protocols built on the sumcheck engine (range checks, ...)."""
