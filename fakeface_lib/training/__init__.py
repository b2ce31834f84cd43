"""Training: the loop notebook 01 writes by hand (loop), fit() around it (fit), mixed precision
(amp), checkpoints and the identity a run is filed and resumed by (checkpoints, identity).

Modules only; each name is imported from the module that defines it.
"""
