"""The inputs layer: what the network sees and what it is scored on.

The 50-channel input stack (:mod:`.build`), its normalisation, the linear-trend channels, the
training labels and weights (:mod:`.labels`), the train/validate/test years (:mod:`.splits`), the
forecast start months, the real records' channels and splits (:mod:`.real_record`) and the checks
they share (:mod:`.checks`). It builds on :mod:`icegrad.data` and never on the model.
"""
