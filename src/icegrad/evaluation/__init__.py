"""The evaluation layer: how far attributions can be trusted and what they cost.

Permute-and-predict importance (:mod:`.permutation`), fidelity against the emulated Arctic's known
truth (:mod:`.fidelity`), the additive benchmark (:mod:`.additive`), robustness across leads and
members (:mod:`.robustness`), sanity checks (:mod:`.sanity`) and the cost model (:mod:`.cost`). They
build on the attribution engine and never on the pipeline.
"""
