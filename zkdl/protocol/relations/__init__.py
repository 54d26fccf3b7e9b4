"""The relations of the training proof, one module each, prover and verifier side by side.

Each module proves one family of identities between the run's tensors and turns claims on *virtual* tensors
(never committed: Z, A, G_A, G_Z, per-step weights, scheduled batches) into claims on committed ones (the
statement's tensors and the range tensor L):

* :mod:`.limbs` — claims on range-checked tensors become claims on their limbs in L; the relation's inputs
  (scheduled batches, initial weights and biases) are range-checked through their limbs;
* :mod:`.matmul` — per layer: the forward matmul, the backward matmul, the weight and bias gradients;
* :mod:`.relu` — zkReLU of the hidden layers (forward and backward through the sign bits) and the output layer;
* :mod:`.schedule` — the scheduled batches are the dataset rows the public batch schedule names;
* :mod:`.history` — per-step weights are the initial weights minus the earlier updates, down to the final ones;
* :mod:`.padding` — the statement's tensors are zero outside their true shapes.

They live under ``protocol/`` (not ``gadgets/``) because they depend on the statement and the witness;
``gadgets/`` holds sub-protocols that know nothing of training. Every stage function has one signature —
prover ``(ch, pub, w, reg, virt, layer)``, verifier ``(ch, pub, reg, virt, layer)`` — and the order in which
they run is written once, in ``training.STAGES``.
"""
