"""Polynomial IOP layer: the sumcheck engine and claim reduction."""
