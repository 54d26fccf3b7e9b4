"""Commitments in BLS12-381 G1: generators, Hyrax-style hiding Pedersen row commitments, evaluation proofs.

The only package that touches G1.
"""
