"""The evaluation layer: how far attributions can be trusted and what they cost.

Permute-and-predict importance (:mod:`.permutation`), fidelity against the emulated Arctic's known
truth (:mod:`.fidelity`), the additive benchmark (:mod:`.additive`), robustness across leads and
members (:mod:`.robustness`), sanity checks (:mod:`.sanity`), the cost model (:mod:`.cost`), the verdict
on the letter's finding (:mod:`.letter`), the baseline gallery (:mod:`.baselines`), model and data
randomisation (:mod:`.randomisation`), deletion/insertion curves (:mod:`.faithfulness`) and
attribution-guided input selection (:mod:`.selection`), and, before any of them, the skill an
emulated Arctic's tuning leaves over the trend for a network to find (:mod:`.headroom`). They build on
the attribution engine (and, for retraining, the model layer) and never on the pipeline.
"""
